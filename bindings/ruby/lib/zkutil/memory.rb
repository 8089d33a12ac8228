# frozen_string_literal: true

module Zkutil
  # Copies what the library returned into Ruby objects and frees it at once
  # (in `ensure`, so an exception cannot leak it): strings, buffers, lists.
  module Memory
    module_function

    def out_pointer
      FFI::MemoryPointer.new(:pointer)
    end

    # A `char **` result: the string (UTF-8), or nil for NULL.
    def take_string(out)
      take_c_string(out.read_pointer)
    end

    # A `char *` result: the string (UTF-8), or nil for NULL.
    def take_c_string(ptr)
      return nil if ptr.null?

      begin
        ptr.read_string.force_encoding(Encoding::UTF_8)
      ensure
        Native.zku_string_free(ptr)
      end
    end

    # A `zku_buf **` result: the bytes (binary String), or nil for NULL.
    def take_buf(out)
      buf = out.read_pointer
      return nil if buf.null?

      begin
        Native.zku_buf_data(buf).read_bytes(Native.zku_buf_len(buf))
      ensure
        Native.zku_buf_free(buf)
      end
    end

    # A `zku_strings **` result: an Array of Strings.
    def take_strings(out)
      list = out.read_pointer
      return [] if list.null?

      begin
        Array.new(Native.zku_strings_len(list)) { |i| Native.zku_strings_get(list, i).force_encoding(Encoding::UTF_8) }
      ensure
        Native.zku_strings_free(list)
      end
    end

    # A `zku_members **` result: a Hash of name => data (binary String), sorted by name.
    def take_members(out)
      list = out.read_pointer
      return {} if list.null?

      begin
        len = FFI::MemoryPointer.new(:size_t)
        Array.new(Native.zku_members_len(list)) do |i|
          data = Native.zku_members_data(list, i, len)
          [Native.zku_members_name(list, i).force_encoding(Encoding::UTF_8), data.read_bytes(len.read(:size_t))]
        end.to_h
      ensure
        Native.zku_members_free(list)
      end
    end

    # A `const char *const *` argument: the pointer array, kept alive by the
    # returned object until the call ends.
    def string_array(strings)
      parts = strings.map { |s| FFI::MemoryPointer.from_string(s.to_s) }
      array = FFI::MemoryPointer.new(:pointer, [parts.size, 1].max)
      array.write_array_of_pointer(parts)
      [array, parts]
    end

    def bytes(data)
      data = data.to_s
      [data, data.bytesize]
    end
  end

  # A node's metadata (ZooKeeper's Stat), copied out of Native::Stat.
  Stat = Struct.new(*Native::Stat.members) do
    def self.from(native)
      new(*native.values)
    end
  end
end
