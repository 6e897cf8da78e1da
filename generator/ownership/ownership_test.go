package ownership

import "testing"

func TestMemberKey(t *testing.T) {
	for _, c := range []struct {
		sts  string
		ord  int
		want string
	}{
		{"cassandra", 0, "cassandra/0"},
		{"cassandra", 12, "cassandra/12"},
		{"a-b.c", 3, "a-b.c/3"},
	} {
		if got := MemberKey(c.sts, c.ord); got != c.want {
			t.Errorf("MemberKey(%q, %d) = %q, want %q", c.sts, c.ord, got, c.want)
		}
	}
}
