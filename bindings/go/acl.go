package zkutil

/*
#include <stdlib.h>
#include <zkutil.h>
*/
import "C"

// ACLEntry is one ACL entry: a permission mask, a scheme and an id as
// ZooKeeper takes them ("world"/"anyone", "digest"/"user:digest", ...).
type ACLEntry struct {
	Perms  Perm
	Scheme string
	ID     string
}

// ACL is an ordered list of entries.
type ACL []ACLEntry

// DigestEntry is the digest ACL entry for user with password and
// permission letters of "cdrwa" (k3zkutil's make_kazoo_digest_acl).
func DigestEntry(user, password, perms string) (ACLEntry, error) {
	list, err := ACL(nil).newList()
	if err != nil {
		return ACLEntry{}, err
	}
	defer C.zku_acl_list_free(list)
	u, p, ps := C.CString(user), C.CString(password), C.CString(perms)
	defer freeString(u)
	defer freeString(p)
	defer freeString(ps)
	var cerr *C.zku_error
	if rc := C.zku_acl_list_add_digest(list, u, p, ps, &cerr); rc != 0 {
		return ACLEntry{}, errorFrom(rc, cerr)
	}
	return aclFrom(list)[0], nil
}

func (a ACL) newList() (*C.zku_acl_list, error) {
	var list *C.zku_acl_list
	var cerr *C.zku_error
	if rc := C.zku_acl_list_new(&list, &cerr); rc != 0 {
		return nil, errorFrom(rc, cerr)
	}
	return list, nil
}

// build makes the C list (nil for an empty ACL); free it with
// C.zku_acl_list_free.
func (a ACL) build() (*C.zku_acl_list, error) {
	if len(a) == 0 {
		return nil, nil
	}
	list, err := a.newList()
	if err != nil {
		return nil, err
	}
	for _, e := range a {
		scheme, id := C.CString(e.Scheme), C.CString(e.ID)
		var cerr *C.zku_error
		rc := C.zku_acl_list_add(list, C.int32_t(e.Perms), scheme, id, &cerr)
		freeString(scheme)
		freeString(id)
		if rc != 0 {
			C.zku_acl_list_free(list)
			return nil, errorFrom(rc, cerr)
		}
	}
	return list, nil
}

func aclFrom(list *C.zku_acl_list) ACL {
	n := int(C.zku_acl_list_len(list))
	out := make(ACL, n)
	for i := range out {
		var perms C.int32_t
		var scheme, id *C.char
		C.zku_acl_list_get(list, C.size_t(i), &perms, &scheme, &id, nil)
		out[i] = ACLEntry{Perms: Perm(perms), Scheme: C.GoString(scheme), ID: C.GoString(id)}
	}
	return out
}

// stringFunc runs a helper taking one string and returning a new one.
func stringFunc(in string, f func(*C.char, **C.char, **C.zku_error) C.zku_rc) (string, error) {
	s := C.CString(in)
	defer freeString(s)
	var out *C.char
	var cerr *C.zku_error
	if rc := f(s, &out, &cerr); rc != 0 {
		return "", errorFrom(rc, cerr)
	}
	return takeString(out), nil
}

// MakeDigest is base64(sha1(acc)) for acc "user:password".
func MakeDigest(acc string) (string, error) {
	return stringFunc(acc, func(s *C.char, out **C.char, cerr **C.zku_error) C.zku_rc {
		return C.zku_make_digest(s, out, cerr)
	})
}

// MakeACLEntry is "digest:<user>:<digest>:<perms>" (perms: lower-case
// letters of "cdrwa", else ErrPerm).
func MakeACLEntry(user, password, perms string) (string, error) {
	u, p := C.CString(user), C.CString(password)
	defer freeString(u)
	defer freeString(p)
	return stringFunc(perms, func(s *C.char, out **C.char, cerr **C.zku_error) C.zku_rc {
		return C.zku_make_acl_entry(u, p, s, out, cerr)
	})
}

// PermLettersToNames turns letters of "cdrwa" (either case) into long
// names ("create", ...), upper case unless lower.
func PermLettersToNames(letters string, lower bool) ([]string, error) {
	s := C.CString(letters)
	defer freeString(s)
	var list *C.zku_strings
	var cerr *C.zku_error
	if rc := C.zku_perm_letters_to_names(s, C.bool(lower), &list, &cerr); rc != 0 {
		return nil, errorFrom(rc, cerr)
	}
	return takeStrings(list), nil
}

// PermNamesToLetters turns long names (either case) into letters, upper
// case unless lower.
func PermNamesToLetters(names []string, lower bool) (string, error) {
	cs := cStrings(names)
	defer freeCStrings(cs)
	arr, n := cStringsArg(cs)
	var out *C.char
	var cerr *C.zku_error
	if rc := C.zku_perm_names_to_letters(arr, n, C.bool(lower), &out, &cerr); rc != 0 {
		return "", errorFrom(rc, cerr)
	}
	return takeString(out), nil
}

// PermLettersToMask turns letters of "cdrwa" (either case) into a mask.
func PermLettersToMask(letters string) (Perm, error) {
	s := C.CString(letters)
	defer freeString(s)
	var mask C.int32_t
	var cerr *C.zku_error
	if rc := C.zku_perm_letters_to_mask(s, &mask, &cerr); rc != 0 {
		return 0, errorFrom(rc, cerr)
	}
	return Perm(mask), nil
}

// PermNamesToMask turns long names (either case, "all" too) into a mask.
func PermNamesToMask(names []string) (Perm, error) {
	cs := cStrings(names)
	defer freeCStrings(cs)
	arr, n := cStringsArg(cs)
	var mask C.int32_t
	var cerr *C.zku_error
	if rc := C.zku_perm_names_to_mask(arr, n, &mask, &cerr); rc != 0 {
		return 0, errorFrom(rc, cerr)
	}
	return Perm(mask), nil
}

// PermMaskToLetters turns a mask into letters in k3zkutil's order
// ("cdrwa" for all five, else r, w, c, d, a), upper case unless lower.
func PermMaskToLetters(mask Perm, lower bool) (string, error) {
	var out *C.char
	var cerr *C.zku_error
	if rc := C.zku_perm_mask_to_letters(C.int32_t(mask), C.bool(lower), &out, &cerr); rc != 0 {
		return "", errorFrom(rc, cerr)
	}
	return takeString(out), nil
}

// PermMaskToNames turns a mask into long names, in the order of
// PermMaskToLetters.
func PermMaskToNames(mask Perm, lower bool) ([]string, error) {
	var list *C.zku_strings
	var cerr *C.zku_error
	if rc := C.zku_perm_mask_to_names(C.int32_t(mask), C.bool(lower), &list, &cerr); rc != 0 {
		return nil, errorFrom(rc, cerr)
	}
	return takeStrings(list), nil
}

// NewLockID makes a new identifier "<node_id>-<ip>-<pid>-<uuid4 hex>";
// nodeID "" uses the process default (ZKU_NODE_ID, else the host's MAC).
func NewLockID(nodeID string) (string, error) {
	n := optString(nodeID)
	defer freeString(n)
	var out *C.char
	var cerr *C.zku_error
	if rc := C.zku_lock_id(n, &out, &cerr); rc != 0 {
		return "", errorFrom(rc, cerr)
	}
	return takeString(out), nil
}

// LockIDParts is a parsed lock identifier; absent parts are "".
type LockIDParts struct {
	NodeID       string
	IP           string
	ProcessID    int64
	HasProcessID bool // false when the third part is missing or not all digits
	UUID         string
	TxID         string // the text after "txid:" when NodeID starts with it
}

// ParseLockID splits an identifier on its first three '-' (k3zkutil's
// parse_lock_id).
func ParseLockID(id string) (LockIDParts, error) {
	s := C.CString(id)
	defer freeString(s)
	var parts *C.zku_lock_id_parts
	var cerr *C.zku_error
	if rc := C.zku_parse_lock_id(s, &parts, &cerr); rc != 0 {
		return LockIDParts{}, errorFrom(rc, cerr)
	}
	defer C.zku_lock_id_parts_free(parts)
	return LockIDParts{
		NodeID: C.GoString(parts.node_id), IP: C.GoString(parts.ip), ProcessID: int64(parts.process_id),
		HasProcessID: bool(parts.has_process_id), UUID: C.GoString(parts.uuid), TxID: C.GoString(parts.txid),
	}, nil
}

// IsBackwardLocking tells whether locking key after lockedKeys goes
// backwards in byte-wise order (k3zkutil's is_backward_locking);
// ErrAlreadyLocked when key is among lockedKeys.
func IsBackwardLocking(lockedKeys []string, key string) (bool, error) {
	cs := cStrings(lockedKeys)
	defer freeCStrings(cs)
	arr, n := cStringsArg(cs)
	k := C.CString(key)
	defer freeString(k)
	var out C.bool
	var cerr *C.zku_error
	if rc := C.zku_is_backward_locking(arr, n, k, &out, &cerr); rc != 0 {
		return false, errorFrom(rc, cerr)
	}
	return bool(out), nil
}
