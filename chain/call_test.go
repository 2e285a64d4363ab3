package chain

import (
	"strings"
	"testing"
)

func TestValidAttachmentIfnameAsLibcni(t *testing.T) {
	for _, ifname := range []string{"eth0", "net1", "a.b", ".hidden", "x-y_z", strings.Repeat("a", 15)} {
		if err := validAttachment("cid", ifname); err != nil {
			t.Errorf("%q rejected: %v", ifname, err)
		}
	}
	// libcni's ValidateInterfaceName: length, ".", "..", '/', ':' and every unicode.IsSpace rune.
	for _, ifname := range []string{"", ".", "..", strings.Repeat("a", 16), "a/b", "a:b", "a b", "a\tb", "a\vb", "a\fb", "a\rb", "a\u00a0b", "a\u2003b", "a\u0085b"} {
		wantKind(t, validAttachment("cid", ifname), ErrInvalidEnv, "CNI_IFNAME")
	}
}
