package zkutil

/*
#include <stdlib.h>
#include <zkutil.h>
*/
import "C"

import (
	"context"
	"encoding/json"
)

// ImportStats is what an import did.
type ImportStats struct {
	Nodes     uint64 // nodes in the document, the root included
	Created   uint64 // nodes created
	Existed   uint64 // nodes that already existed (their ACL was set)
	ValuesSet uint64 // existing nodes whose value was set (ImportUpdateValues)
}

func statsFrom(s *C.zku_import_stats) ImportStats {
	return ImportStats{uint64(s.nodes), uint64(s.created), uint64(s.existed), uint64(s.values_set)}
}

// usersArg is the users JSON object {"user": "password"} (NULL for none).
func usersArg(users map[string]string) (*C.char, error) {
	if len(users) == 0 {
		return nil, nil
	}
	text, err := json.Marshal(users)
	if err != nil {
		return nil, err
	}
	return C.CString(string(text)), nil
}

// InitHierarchy is k3zkutil's init_hierarchy: connects with cfg, creates
// the tree the JSON document describes under root ("" : "/"), and closes
// the session. users gives the passwords of the users named in __acl__
// maps. The document is checked completely before anything is written.
func InitHierarchy(ctx context.Context, cfg Config, root, document string, users map[string]string, flags ImportFlag) (ImportStats, error) {
	conf, err := cfg.build()
	if err != nil {
		return ImportStats{}, err
	}
	defer C.zku_config_free(conf)
	u, err := usersArg(users)
	if err != nil {
		return ImportStats{}, err
	}
	defer freeString(u)
	o, err := start(ctx, noLimit)
	if err != nil {
		return ImportStats{}, err
	}
	defer o.end()
	r, d := optString(root), C.CString(document)
	defer freeString(r)
	defer freeString(d)
	var stats C.zku_import_stats
	var cerr *C.zku_error
	if rc := C.zku_init_hierarchy(conf, r, d, u, C.uint32_t(flags), o.timeout, o.cancel, &stats, &cerr); rc != 0 {
		return ImportStats{}, o.fail(rc, cerr)
	}
	return statsFrom(&stats), nil
}

// ImportHierarchy is InitHierarchy on this client's session.
func (c *Client) ImportHierarchy(ctx context.Context, root, document string, users map[string]string, flags ImportFlag) (ImportStats, error) {
	u, err := usersArg(users)
	if err != nil {
		return ImportStats{}, err
	}
	defer freeString(u)
	cl, o, err := c.begin(ctx)
	if err != nil {
		return ImportStats{}, err
	}
	defer c.end(&o)
	r, d := optString(root), C.CString(document)
	defer freeString(r)
	defer freeString(d)
	var stats C.zku_import_stats
	var cerr *C.zku_error
	if rc := C.zku_import_hierarchy(cl, r, d, u, C.uint32_t(flags), o.timeout, o.cancel, &stats, &cerr); rc != 0 {
		return ImportStats{}, o.fail(rc, cerr)
	}
	return statsFrom(&stats), nil
}

// ExportHierarchy is k3zkutil's export_hierarchy: the subtree at path as
// a JSON document (lossless unless ExportK3zkutil). users gives the
// passwords that let digest ACLs be written as __acl__ maps.
func (c *Client) ExportHierarchy(ctx context.Context, path string, users map[string]string, flags ExportFlag) (string, error) {
	u, err := usersArg(users)
	if err != nil {
		return "", err
	}
	defer freeString(u)
	cl, o, err := c.begin(ctx)
	if err != nil {
		return "", err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var out *C.char
	var cerr *C.zku_error
	if rc := C.zku_export_hierarchy(cl, p, u, C.uint32_t(flags), o.timeout, o.cancel, &out, &cerr); rc != 0 {
		return "", o.fail(rc, cerr)
	}
	return takeString(out), nil
}
