//! Permission strings and masks (`acl`), ACL lists and credentials
//! (`config::parse_acl_list`, `parse_auth`): each accepts or refuses with
//! its code, and the conversions agree with each other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zkutil::Code;
use zkutil::acl::{self, Acl};
use zkutil::config::{parse_acl_list, parse_auth};

fuzz_target!(|data: &[u8]| {
    if data.len() >= 4 {
        let mask = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        masks(mask);
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    match acl::letters_to_mask(s) {
        Ok(mask) => {
            assert!(mask <= 31);
            assert_eq!(acl::letters_to_mask(&acl::mask_to_letters(mask, false).unwrap()).unwrap(), mask);
            let names = acl::perm_to_long(s, true).unwrap();
            assert_eq!(acl::perm_to_short(&names, true).unwrap(), s.to_lowercase());
            assert_eq!(acl::names_to_mask(&names).unwrap(), mask);
        }
        Err(e) => {
            assert_eq!(e.code(), Code::BadPermission, "{s:?}");
            assert_eq!(acl::perm_to_long(s, false).unwrap_err().code(), Code::BadPermission, "{s:?}");
        }
    }
    let names: Vec<&str> = s.split(',').collect();
    if let Err(e) = acl::names_to_mask(&names) {
        assert_eq!(e.code(), Code::BadPermission, "{s:?}");
    }
    if let Err(e) = acl::perm_to_short(&names, false) {
        assert_eq!(e.code(), Code::BadPermission, "{s:?}");
    }
    let mut fields = s.splitn(3, ':');
    let (user, password, perms) = (fields.next().unwrap(), fields.next().unwrap_or(""), fields.next().unwrap_or(""));
    match acl::make_acl_entry(user, password, perms) {
        Ok(entry) => assert!(entry.starts_with("digest:") && entry.ends_with(perms)),
        Err(e) => assert_eq!(e.code(), Code::BadPermission, "{s:?}"),
    }
    match parse_acl_list(s) {
        Ok(specs) => {
            for spec in specs {
                let mask = acl::letters_to_mask(&spec.perms).unwrap();
                Acl::digest(&spec.user, &spec.password, mask).validate().unwrap();
            }
        }
        Err(e) => assert!(matches!(e.code(), Code::InvalidArgument | Code::BadPermission), "{s:?}: {e}"),
    }
    match parse_auth(s) {
        Ok(auth) => assert_eq!(auth.credentials(), s.split_once(':').unwrap().1.as_bytes()),
        Err(e) => assert_eq!(e.code(), Code::InvalidArgument),
    }
});

fn masks(mask: u32) {
    match acl::mask_to_letters(mask, true) {
        Ok(letters) => {
            assert!(mask <= 31);
            assert_eq!(acl::letters_to_mask(&letters).unwrap(), mask);
            assert_eq!(acl::names_to_mask(&acl::mask_to_names(mask, false).unwrap()).unwrap(), mask);
        }
        Err(e) => {
            assert!(mask > 31);
            assert_eq!(e.code(), Code::BadPermission);
            assert_eq!(acl::mask_to_names(mask, true).unwrap_err().code(), Code::BadPermission);
        }
    }
}
