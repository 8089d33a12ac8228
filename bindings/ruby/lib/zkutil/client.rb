# frozen_string_literal: true

module Zkutil
  # Milliseconds a call waits when given no `timeout_ms:` (lock calls use
  # the lock's default instead).
  DEFAULT_TIMEOUT_MS = 10_000

  # A ZooKeeper session (zku_client), safe to share between threads. Every
  # blocking method takes `timeout_ms:` (-1 forever, 0 one attempt) and
  # `cancel:` (a Zkutil::Cancel), and returns within 50 ms when its thread
  # is interrupted (Timeout.timeout, Thread#raise, Thread#kill).
  class Client < Handle
    include Notifications::Io # #io / #drain: session state changes (STATE_*)
    include Notifications::StateBlock # #on_state { |old, new| }: STATE_*
    NATIVE = :zku_client

    # Connects (up to the configured connect timeout). `config`: a
    # Zkutil::Config, or its options as keywords.
    def initialize(config = nil, cancel: nil, **options)
      config = Config.coerce(config || (options.empty? ? nil : options))
      out = Memory.out_pointer
      Zkutil.blocking(cancel, -> { super(out.read_pointer, :zku_client_free) }) do |c, err|
        Native.zku_client_new(config&.ptr, c, out, err)
      end
    end

    # Yields a new client and frees it afterwards.
    def self.open(*args, **options)
      client = new(*args, **options)
      begin
        yield client
      ensure
        client.free
      end
    end

    # Ends the session now (ephemeral nodes vanish); calls blocked on this
    # client or its handles raise Zkutil::Closed.
    def close(timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      blocking(cancel) { |c, err| Native.zku_client_close(ptr, timeout_ms, c, err) }
      nil
    end

    def session_id
      Native.zku_client_session_id(ptr)
    end

    def session_timeout_ms
      Native.zku_client_session_timeout_ms(ptr)
    end

    # One of the STATE_* constants.
    def state
      Native.zku_client_state(ptr)
    end

    # The client's counters (Native::ClientStats) as a Hash, for metrics;
    # also readable after #close.
    def stats
      stats = Native::ClientStats.new
      Zkutil.check { |err| Native.zku_client_get_stats(ptr, stats, err) }
      stats.members.to_h { |m| [m, stats[m]] }
    end

    def add_auth(scheme, auth, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      data, len = Memory.bytes(auth)
      blocking(cancel) { |c, err| Native.zku_client_add_auth(ptr, scheme, data, len, timeout_ms, c, err) }
      nil
    end

    # Creates a node; returns its path (with the sequence number). flags:
    # CREATE_* bits; acl: an Array of Zkutil::Acl (nil: the default ACL).
    def create(path, data = "", flags: 0, ttl_ms: 0, acl: nil, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      bytes, len = Memory.bytes(data)
      native_acl = acl && Acl.to_native(acl)
      out = Memory.out_pointer
      blocking(cancel, -> { Memory.take_string(out) }) do |c, err|
        Native.zku_client_create(ptr, path, bytes, len, flags, ttl_ms, native_acl, timeout_ms, c, out, nil, err)
      end
    end

    # [data (binary String), Stat].
    #
    # Reads into memory of the calling fiber's (zku_client_get_into): the
    # library allocates nothing for data up to 4 KiB, and no lock or
    # interrupt mask is taken (README, Ruby gem).
    def get(path, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      me = Interrupts.current
      room = me.get_room ||= Memory::GetRoom.make
      rc = Interrupts.run_unmasked(me, cancel) do |c|
        Native.zku_client_get_into(ptr(me), path, timeout_ms, c, room.data, Memory::GET_ROOM, room.len,
                                   room.overflow, room.stat, room.err)
      rescue Exception # rubocop:disable Lint/RescueException -- an interrupt as the call returned
        room.drop_outputs
        raise
      end
      raise room.error(rc) unless rc.zero?

      stat = Stat.new(room.stat.get_bytes(0, Stat::SIZE))
      length = stat.data_length
      [length > Memory::GET_ROOM ? room.take_overflow : room.data.get_bytes(0, length), stat]
    end

    # Writes if the version is `version` (ANY_VERSION: any); returns the Stat.
    def set(path, data, version: ANY_VERSION, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      bytes, len = Memory.bytes(data)
      with_stat { |stat| blocking(cancel) { |c, err| Native.zku_client_set(ptr, path, bytes, len, version, timeout_ms, c, stat, err) } }
    end

    def delete(path, version: ANY_VERSION, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      blocking(cancel) { |c, err| Native.zku_client_delete(ptr, path, version, timeout_ms, c, err) }
      nil
    end

    # The Stat, or nil when there is no node.
    def exists(path, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      found = FFI::MemoryPointer.new(:uint8)
      stat = Native::Stat.new
      blocking(cancel) { |c, err| Native.zku_client_exists(ptr, path, timeout_ms, c, found, stat, err) }
      found.get_uint8(0).zero? ? nil : Stat.from(stat)
    end

    def children(path, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      out = Memory.out_pointer
      blocking(cancel, -> { Memory.take_strings(out) }) { |c, err| Native.zku_client_children(ptr, path, timeout_ms, c, out, nil, err) }
    end

    # [Array of Zkutil::Acl, Stat].
    def get_acl(path, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      out = Memory.out_pointer
      stat = Native::Stat.new
      blocking(cancel, -> { [Acl.take(out), Stat.from(stat)] }) { |c, err| Native.zku_client_get_acl(ptr, path, timeout_ms, c, out, stat, err) }
    end

    def set_acl(path, acl, version: ANY_VERSION, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      native_acl = Acl.to_native(acl)
      with_stat { |stat| blocking(cancel) { |c, err| Native.zku_client_set_acl(ptr, path, native_acl, version, timeout_ms, c, stat, err) } }
    end

    # #create with JSON text (checked before sending).
    def create_json(path, json, flags: 0, acl: nil, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      native_acl = acl && Acl.to_native(acl)
      out = Memory.out_pointer
      blocking(cancel, -> { Memory.take_string(out) }) do |c, err|
        Native.zku_client_create_json(ptr, path, json, flags, native_acl, timeout_ms, c, out, nil, err)
      end
    end

    # [JSON text, Stat]; Zkutil::BadJson when the data is not JSON.
    def get_json(path, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      out = Memory.out_pointer
      stat = Native::Stat.new
      blocking(cancel, -> { [Memory.take_string(out), Stat.from(stat)] }) { |c, err| Native.zku_client_get_json(ptr, path, timeout_ms, c, out, stat, err) }
    end

    def set_json(path, json, version: ANY_VERSION, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      with_stat { |stat| blocking(cancel) { |c, err| Native.zku_client_set_json(ptr, path, json, version, timeout_ms, c, stat, err) } }
    end

    # Waits until the node's version is greater than `version` (-1: until
    # it exists); [data, Stat]. create: wait for a missing node to appear.
    def get_next(path, version: -1, create: false, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      out = Memory.out_pointer
      stat = Native::Stat.new
      flags = create ? WAIT_CREATE : 0
      blocking(cancel, -> { [Memory.take_buf(out), Stat.from(stat)] }) { |c, err| Native.zku_get_next(ptr, path, version, flags, timeout_ms, c, out, stat, err) }
    end

    # Waits until no node exists at `path`.
    def wait_absent(path, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      blocking(cancel) { |c, err| Native.zku_wait_absent(ptr, path, timeout_ms, c, err) }
      nil
    end

    # The compare-and-swap loop: yields (value, stat) (stat nil while the
    # node does not exist) and writes what the block returns, again on
    # every conflict; nil from the block stops without writing. An
    # exception from the block stops the loop and is raised here. Returns
    # [Stat, attempts]. json: values are JSON text; create: a missing node
    # is `initial` and is created (create_parents: with its parents).
    def cas_update(path, json: false, create: false, create_parents: false, initial: nil, max_attempts: 0,
                   timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil, &block)
      flags = Cas.flags(json, create, create_parents)
      init, init_len = initial.nil? ? [nil, 0] : Memory.bytes(initial)
      sync = SyncCallback.new(-1) { |*args| Cas.run_block(block, *args) }
      function = FFI::Function.new(:int32, %i[pointer pointer size_t pointer pointer]) do |_, value, len, stat, next_value|
        sync.call(value, len, stat, next_value)
      end
      stat = Native::Stat.new
      attempts = FFI::MemoryPointer.new(:uint32)
      sync.around do
        blocking(cancel) do |c, err|
          Native.zku_cas_update(ptr, path, flags, init, init_len, function, nil, max_attempts, timeout_ms, c, stat, attempts, err)
        end
      end
      [Stat.from(stat), attempts.get_uint32(0)]
    end

    # A CAS handle on `path` (see Zkutil::Cas).
    def cas_begin(path, json: false, create: false, create_parents: false, initial: nil,
                  timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      Cas.new(self, path, Cas.flags(json, create, create_parents), initial, timeout_ms, cancel)
    end

    # A lock handle on lock_dir + name (see Zkutil::Lock).
    def lock(name, **options)
      Lock.new(self, name, **options)
    end

    # A sequential lock on lock_dir + name (see Zkutil::Fifo; kind: :mutex,
    # :leader, :read or :write).
    def fifo(name, **options)
      Fifo.new(self, name, **options)
    end

    # A node kept at `path` while the handle lives (see Zkutil::Registration).
    def register(path, data = "", **options)
      Registration.new(self, path, data, **options)
    end

    # The children of `parent` with their data: { name => data }, sorted by name.
    def members(parent, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      out = Memory.out_pointer
      blocking(cancel, -> { Memory.take_members(out) }) { |c, err| Native.zku_members_list(ptr, parent, timeout_ms, c, out, err) }
    end

    # A cached reader of the JSON object at `path` (see Zkutil::Reader).
    def reader(path, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil, &on_event)
      Reader.new(self, path, timeout_ms: timeout_ms, cancel: cancel, &on_event)
    end

    # Creates the tree the JSON document describes under `root`; returns
    # Native::ImportStats as a Hash. users: JSON {"user": "password"}.
    def import_hierarchy(document, root: nil, users: nil, update_values: false,
                         timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      stats = Native::ImportStats.new
      flags = update_values ? IMPORT_UPDATE_VALUES : 0
      blocking(cancel) do |c, err|
        Native.zku_import_hierarchy(ptr, root, document, users, flags, timeout_ms, c, stats, err)
      end
      stats.members.to_h { |m| [m, stats[m]] }
    end

    # The subtree at `path` as a JSON document.
    def export_hierarchy(path, users: nil, k3zkutil: false, pretty: false, omit_inherited_acl: false,
                         timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      flags = (k3zkutil ? EXPORT_K3ZKUTIL : 0) | (pretty ? EXPORT_PRETTY : 0) |
              (omit_inherited_acl ? EXPORT_OMIT_INHERITED_ACL : 0)
      out = Memory.out_pointer
      blocking(cancel, -> { Memory.take_string(out) }) { |c, err| Native.zku_export_hierarchy(ptr, path, users, flags, timeout_ms, c, out, err) }
    end

    private

    # #free: calls on the client and its handles in other threads raise
    # Zkutil::Closed (the session is closed as the free would).
    def end_calls
      wait = Native.zku_client_session_timeout_ms(@pointer)
      Native.zku_client_close(@pointer, wait.positive? ? [wait, 5000].min : 5000, nil, nil)
    end

    def blocking(cancel, results = nil, &call)
      Zkutil.blocking(cancel, results, &call)
    end

    def with_stat
      stat = Native::Stat.new
      yield stat
      Stat.from(stat)
    end
  end

  class << self
    # Runs one blocking C call: yields (cancel pointer, error out-pointer)
    # under Interrupts and raises the matching Error for a negative result.
    # `results` (a Proc) copies what the call returned; it runs before an
    # interrupt can be raised, so nothing the library returned leaks.
    def blocking(cancel, results = nil)
      Interrupts.run(cancel) do |c|
        check { |err| yield c, err }
        results&.call
      end
    end

    # k3zkutil's init_hierarchy: connects with `config` (a Config or its
    # options), imports, closes. Returns the stats as a Hash.
    def init_hierarchy(document, config: nil, root: nil, users: nil, update_values: false,
                       timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      config = Config.coerce(config)
      stats = Native::ImportStats.new
      flags = update_values ? IMPORT_UPDATE_VALUES : 0
      blocking(cancel) do |c, err|
        Native.zku_init_hierarchy(config&.ptr, root, document, users, flags, timeout_ms, c, stats, err)
      end
      stats.members.to_h { |m| [m, stats[m]] }
    end
  end
end
