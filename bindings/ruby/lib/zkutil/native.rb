# frozen_string_literal: true

require "ffi"

module Zkutil
  # Where the shared library is: $ZKUTIL_LIB, else pkg-config's zkutil
  # libdir, else the repository's target/release (the gem used from a
  # checkout), else the system's search path.
  module Library
    module_function

    def path
      from_env = ENV["ZKUTIL_LIB"]
      return from_env if from_env && !from_env.empty?

      from_pkg_config || from_checkout || "zkutil"
    end

    def from_pkg_config
      libdir = IO.popen(%w[pkg-config --variable=libdir zkutil], err: File::NULL, &:read).strip
      candidate = File.join(libdir, FFI.map_library_name("zkutil"))
      candidate if $?.success? && !libdir.empty? && File.exist?(candidate)
    rescue SystemCallError
      nil
    end

    def from_checkout
      candidate = File.expand_path("../../../../target/release/#{FFI.map_library_name('zkutil')}", __dir__)
      candidate if File.exist?(candidate)
    end
  end

  # The C functions, attached by lib/zkutil/generated.rb.
  module Native
    extend FFI::Library
    ffi_lib Library.path
  end
end

require_relative "generated"
