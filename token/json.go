package token

import (
	"strconv"

	"github.com/scopegate/scopegate/internal/strictjson"
)

// The JSON of headers and claims is read with strictjson, which matches keys
// exactly and refuses repeated ones; this file holds the one JWT-specific
// piece, NumericDate.

// maxNumericDate is 9999-12-31T23:59:59Z. A later time is no real token's and
// would overflow time arithmetic.
const maxNumericDate = 253402300799

// parseNumericDate reads a NumericDate (RFC 7519 §2): a JSON number of
// seconds since the epoch, never a string. Fractions are truncated. Negative
// values and values past maxNumericDate are refused.
func parseNumericDate(b []byte, i int) (value int64, next int, err error) {
	next, err = strictjson.ScanNumber(b, i)
	if err != nil {
		return 0, 0, err
	}
	num := b[i:next]
	if len(num) <= 12 && num[0] != '-' && allDigits(num) {
		for _, c := range num {
			value = value*10 + int64(c-'0')
		}
	} else {
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil || f < 0 || f > maxNumericDate {
			return 0, 0, strictjson.ErrSyntax
		}
		value = int64(f)
	}
	if value > maxNumericDate {
		return 0, 0, strictjson.ErrSyntax
	}
	return value, next, nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
