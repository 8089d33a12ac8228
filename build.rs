// Gives the shared library a SONAME (libzkutil.so.MAJOR.MINOR while the
// major version is 0, as any 0.x minor release may change the ABI), so
// programs record the ABI they were linked against.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let abi = if major == "0" { format!("0.{minor}") } else { major };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzkutil.so.{abi}");
    println!("cargo:rerun-if-changed=build.rs");
}
