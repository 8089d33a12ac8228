# frozen_string_literal: true

module Zkutil
  # One ACL entry: perms a mask of PERM_* bits, scheme and id as ZooKeeper
  # takes them ("world"/"anyone", "digest"/"user:digest", ...).
  Acl = Struct.new(:perms, :scheme, :id) do
    # A digest entry for user/password with `perms` letters of "cdrwa".
    def self.digest(user, password, perms)
      new(Zkutil.perm_letters_to_mask(perms), "digest", "#{user}:#{Zkutil.make_digest("#{user}:#{password}")}")
    end

    def self.world(perms = PERM_ALL)
      new(perms, "world", "anyone")
    end

    # A native zku_acl_list for one call (freed by its AutoPointer).
    def self.to_native(entries)
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_acl_list_new(out, err) }
      list = FFI::AutoPointer.new(out.read_pointer, Native.method(:zku_acl_list_free))
      entries.each { |e| Zkutil.check { |err| Native.zku_acl_list_add(list, e.perms, e.scheme, e.id, err) } }
      list
    end

    # Copies a `zku_acl_list **` result into an Array and frees the list.
    def self.take(out)
      list = out.read_pointer
      begin
        perms = FFI::MemoryPointer.new(:int32)
        scheme = Memory.out_pointer
        id = Memory.out_pointer
        Array.new(Native.zku_acl_list_len(list)) do |i|
          Zkutil.check { |err| Native.zku_acl_list_get(list, i, perms, scheme, id, err) }
          new(perms.get_int32(0), scheme.read_pointer.read_string, id.read_pointer.read_string)
        end
      ensure
        Native.zku_acl_list_free(list)
      end
    end
  end

  # A parsed lock identifier (absent parts nil).
  LockIdParts = Struct.new(:node_id, :ip, :process_id, :uuid, :txid)

  class << self
    # base64(sha1("user:password")).
    def make_digest(account)
      string_result { |out, err| Native.zku_make_digest(account, out, err) }
    end

    # "digest:<user>:<digest>:<perms>".
    def make_acl_entry(user, password, perms)
      string_result { |out, err| Native.zku_make_acl_entry(user, password, perms, out, err) }
    end

    def perm_letters_to_names(letters, lower: true)
      out = Memory.out_pointer
      check { |err| Native.zku_perm_letters_to_names(letters, lower, out, err) }
      Memory.take_strings(out)
    end

    def perm_names_to_letters(names, lower: true)
      array, _keep = Memory.string_array(names)
      string_result { |out, err| Native.zku_perm_names_to_letters(array, names.size, lower, out, err) }
    end

    def perm_letters_to_mask(letters)
      int_result { |out, err| Native.zku_perm_letters_to_mask(letters, out, err) }
    end

    def perm_names_to_mask(names)
      array, _keep = Memory.string_array(names)
      int_result { |out, err| Native.zku_perm_names_to_mask(array, names.size, out, err) }
    end

    def perm_mask_to_letters(mask, lower: true)
      string_result { |out, err| Native.zku_perm_mask_to_letters(mask, lower, out, err) }
    end

    def perm_mask_to_names(mask, lower: true)
      out = Memory.out_pointer
      check { |err| Native.zku_perm_mask_to_names(mask, lower, out, err) }
      Memory.take_strings(out)
    end

    # A new lock identifier "<node_id>-<ip>-<pid>-<uuid>".
    def lock_id(node_id = nil)
      string_result { |out, err| Native.zku_lock_id(node_id, out, err) }
    end

    # k3zkutil's parse_lock_id: a LockIdParts (absent parts nil).
    def parse_lock_id(id)
      out = Memory.out_pointer
      check { |err| Native.zku_parse_lock_id(id, out, err) }
      parts = Native::LockIdParts.new(out.read_pointer)
      begin
        text = ->(field) { parts[field].null? ? nil : parts[field].read_string.force_encoding(Encoding::UTF_8) }
        LockIdParts.new(text[:node_id], text[:ip], parts[:has_process_id] ? parts[:process_id] : nil,
                        text[:uuid], text[:txid])
      ensure
        Native.zku_lock_id_parts_free(parts)
      end
    end

    # Whether locking `key` after `locked_keys` goes backwards (k3zkutil's
    # is_backward_locking); AlreadyLocked when `key` is among them.
    def backward_locking?(locked_keys, key)
      array, _keep = Memory.string_array(locked_keys)
      out = FFI::MemoryPointer.new(:uint8)
      check { |err| Native.zku_is_backward_locking(array, locked_keys.size, key, out, err) }
      out.get_uint8(0) != 0
    end

    def strerror(code)
      Native.zku_strerror(code)
    end

    # The version of the library loaded.
    def library_version
      Native.zku_version
    end

    private

    def string_result
      out = Memory.out_pointer
      check { |err| yield out, err }
      Memory.take_string(out)
    end

    def int_result
      out = FFI::MemoryPointer.new(:int32)
      check { |err| yield out, err }
      out.get_int32(0)
    end
  end
end
