package harness

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listeners returns the TCP sockets in LISTEN state that the components'
// processes hold, as "component ip:port" (read from /proc: the socket
// inodes of each process's file descriptors, matched in /proc/net/tcp{,6}).
func (c *Cluster) Listeners() ([]string, error) {
	table := map[string]string{} // inode -> ip:port
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := readListenTable(f, table); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	var out []string
	for _, p := range procs {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
		if err != nil {
			continue // exited
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid), fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			inode := strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")
			if addr, ok := table[inode]; ok {
				out = append(out, p.name+" "+addr)
			}
		}
	}
	return out, nil
}

// NonLoopbackListeners returns the listeners (see Listeners) not bound to a
// loopback address.
func (c *Cluster) NonLoopbackListeners() ([]string, error) {
	all, err := c.Listeners()
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, l := range all {
		_, addr, _ := strings.Cut(l, " ")
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !net.ParseIP(host).IsLoopback() {
			bad = append(bad, l)
		}
	}
	return bad, nil
}

func readListenTable(path string, table map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A = TCP_LISTEN
			continue
		}
		ip, port, err := parseProcAddr(fields[1])
		if err != nil {
			continue
		}
		table[fields[9]] = net.JoinHostPort(ip.String(), strconv.Itoa(port))
	}
	return sc.Err()
}

// parseProcAddr decodes /proc/net/tcp's "0100007F:1F90" (little-endian
// 32-bit words).
func parseProcAddr(s string) (net.IP, int, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, fmt.Errorf("bad address %q", s)
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, err
	}
	return ip, int(port), nil
}
