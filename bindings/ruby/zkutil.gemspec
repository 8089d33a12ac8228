# frozen_string_literal: true

# The version is the C library's (ZKU_VERSION in include/zkutil.h), read
# from the generated constants.
version = File.read(File.join(__dir__, "lib/zkutil/generated.rb"))[/^  VERSION = "([^"]+)"/, 1]

Gem::Specification.new do |spec|
  spec.name = "zkutil"
  spec.version = version
  spec.summary = "ZooKeeper recipes (lock with fencing tokens, CAS, cached reader, waits, ACLs, tree import/export)"
  spec.description = "Ruby bindings of the zkutil C library through ffi. Needs libzkutil " \
                     "(ZKUTIL_LIB, pkg-config zkutil, or the system's library path)."
  spec.authors = ["zkutil developers"]
  spec.license = "MIT"
  spec.files = Dir[File.join(__dir__, "lib/**/*.rb")].map { |f| f.delete_prefix("#{__dir__}/") } + ["zkutil.gemspec"]
  spec.require_paths = ["lib"]
  spec.required_ruby_version = ">= 3.1"
  spec.add_dependency "ffi", ">= 1.15"
end
