//go:build !linux

package atomic

import "errors"

var errNoExchange = errors.New("no atomic exchange of directories here")

// exchange is not available: ReplaceDir swaps in two renames.
func exchange(a, b string) error { return errNoExchange }

func exchangeUnsupported(err error) bool { return errors.Is(err, errNoExchange) }

var unsupportedExchange = errNoExchange
