package zkutil

/*
#include <stdlib.h>
#include <zkutil.h>
*/
import "C"

import "time"

// Config configures clients, locks with their own client and
// InitHierarchy (k3zkutil's ZKConf). Every field left zero falls back to
// the process-wide default read once from the ZKU_* environment variables
// (ZKU_HOSTS, ...), then to the library's built-in default.
type Config struct {
	Hosts          string        // "host:port[,host:port...][/chroot]"
	SessionTimeout time.Duration // requested from the server
	ConnectTimeout time.Duration // how long connecting waits for a session
	// SessionRenewal opens a new session when the session expires (the
	// state goes StateExpired, then StateConnected with a new SessionID);
	// false leaves it to ZKU_SESSION_RENEWAL (default off: an expiry is
	// final). See zku_config_set_session_renewal.
	SessionRenewal bool
	Auth           *Auth        // credentials every session adds
	DefaultACL     []DigestUser // default ACL of every node the library creates
	NodeID         string       // node id in lock identifiers
	LockDir        string       // e.g. "/lock/" (give the trailing '/')
	RecordDir      string
	SeqDir         string
	TxDir          string
}

// Auth is a credential a session adds, e.g. {"digest", "xp", "123"}.
type Auth struct {
	Scheme, User, Password string
}

// DigestUser is a digest ACL entry: a user, its password and permission
// letters of "cdrwa".
type DigestUser struct {
	User, Password, Perms string
}

// build makes the C configuration; free it with C.zku_config_free.
func (cfg *Config) build() (*C.zku_config, error) {
	var conf *C.zku_config
	var cerr *C.zku_error
	if rc := C.zku_config_new(&conf, &cerr); rc != 0 {
		return nil, errorFrom(rc, cerr)
	}
	if err := cfg.apply(conf); err != nil {
		C.zku_config_free(conf)
		return nil, err
	}
	return conf, nil
}

func (cfg *Config) apply(conf *C.zku_config) error {
	var cerr *C.zku_error
	check := func(rc C.zku_rc) error {
		if rc != 0 {
			return errorFrom(rc, cerr)
		}
		return nil
	}
	if cfg.Hosts != "" {
		s := C.CString(cfg.Hosts)
		defer freeString(s)
		if err := check(C.zku_config_set_hosts(conf, s, &cerr)); err != nil {
			return err
		}
	}
	if cfg.SessionTimeout != 0 {
		if err := check(C.zku_config_set_session_timeout_ms(conf, C.int64_t(cfg.SessionTimeout.Milliseconds()), &cerr)); err != nil {
			return err
		}
	}
	if cfg.ConnectTimeout != 0 {
		if err := check(C.zku_config_set_connect_timeout_ms(conf, C.int64_t(cfg.ConnectTimeout.Milliseconds()), &cerr)); err != nil {
			return err
		}
	}
	if cfg.SessionRenewal {
		if err := check(C.zku_config_set_session_renewal(conf, true, &cerr)); err != nil {
			return err
		}
	}
	if a := cfg.Auth; a != nil {
		scheme, user, password := C.CString(a.Scheme), C.CString(a.User), C.CString(a.Password)
		defer freeString(scheme)
		defer freeString(user)
		defer freeString(password)
		if err := check(C.zku_config_set_auth(conf, scheme, user, password, &cerr)); err != nil {
			return err
		}
	}
	for _, u := range cfg.DefaultACL {
		user, password, perms := C.CString(u.User), C.CString(u.Password), C.CString(u.Perms)
		rc := C.zku_config_add_acl(conf, user, password, perms, &cerr)
		freeString(user)
		freeString(password)
		freeString(perms)
		if err := check(rc); err != nil {
			return err
		}
	}
	fields := []struct {
		field ConfigField
		value string
	}{{ConfigNodeID, cfg.NodeID}, {ConfigLockDir, cfg.LockDir}, {ConfigRecordDir, cfg.RecordDir}, {ConfigSeqDir, cfg.SeqDir}, {ConfigTxDir, cfg.TxDir}}
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		s := C.CString(f.value)
		rc := C.zku_config_set(conf, C.zku_config_field(f.field), s, &cerr)
		freeString(s)
		if err := check(rc); err != nil {
			return err
		}
	}
	return nil
}

// Field is the effective value of a text field after the fallbacks
// (environment, built-in default).
func (cfg Config) Field(field ConfigField) (string, error) {
	return cfg.text(func(conf *C.zku_config, out **C.char, cerr **C.zku_error) C.zku_rc {
		return C.zku_config_get(conf, C.zku_config_field(field), out, cerr)
	})
}

// Path builds a k3zkutil path from a text key, e.g. PathLock with "job"
// gives "/lock/job".
func (cfg Config) Path(kind PathKind, key string) (string, error) {
	k := C.CString(key)
	defer freeString(k)
	return cfg.text(func(conf *C.zku_config, out **C.char, cerr **C.zku_error) C.zku_rc {
		return C.zku_config_path(conf, C.zku_path_kind(kind), k, out, cerr)
	})
}

// PathID builds a k3zkutil path from an integer id, written %010d, e.g.
// PathTxAlive with 3 gives "/tx/alive/0000000003".
func (cfg Config) PathID(kind PathKind, id int64) (string, error) {
	return cfg.text(func(conf *C.zku_config, out **C.char, cerr **C.zku_error) C.zku_rc {
		return C.zku_config_path_id(conf, C.zku_path_kind(kind), C.int64_t(id), out, cerr)
	})
}

// text runs a function of the C configuration that gives a new string.
func (cfg Config) text(get func(conf *C.zku_config, out **C.char, cerr **C.zku_error) C.zku_rc) (string, error) {
	conf, err := cfg.build()
	if err != nil {
		return "", err
	}
	defer C.zku_config_free(conf)
	var out *C.char
	var cerr *C.zku_error
	if rc := get(conf, &out, &cerr); rc != 0 {
		return "", errorFrom(rc, cerr)
	}
	return takeString(out), nil
}
