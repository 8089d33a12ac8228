# frozen_string_literal: true

# Ruby bindings of zkutil (ZooKeeper recipes) over its C ABI, through ffi.
require_relative "zkutil/native"
require_relative "zkutil/errors"
require_relative "zkutil/memory"
require_relative "zkutil/handle"
require_relative "zkutil/cancel"
require_relative "zkutil/fork"
require_relative "zkutil/callbacks"
require_relative "zkutil/config"
require_relative "zkutil/acl"
require_relative "zkutil/client"
require_relative "zkutil/cas"
require_relative "zkutil/lock"
require_relative "zkutil/reader"
