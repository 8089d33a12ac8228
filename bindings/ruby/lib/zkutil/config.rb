# frozen_string_literal: true

module Zkutil
  # Client configuration (zku_config). Every option left out falls back to
  # the ZKU_* environment, then the built-in default.
  class Config < Handle
    FREE_ORDER = 2
    FIELDS = { node_id: CONFIG_NODE_ID, lock_dir: CONFIG_LOCK_DIR, record_dir: CONFIG_RECORD_DIR,
               seq_dir: CONFIG_SEQ_DIR, tx_dir: CONFIG_TX_DIR }.freeze
    PATHS = { lock: PATH_LOCK, record: PATH_RECORD, seq: PATH_SEQ, tx_alive: PATH_TX_ALIVE,
              tx_state: PATH_TX_STATE, journal: PATH_JOURNAL, journal_id_set: PATH_JOURNAL_ID_SET,
              txid_maker: PATH_TXID_MAKER }.freeze

    # hosts: "host:port,...[/chroot]"; auth: [scheme, user, password];
    # session_renewal: true or false (nil: ZKU_SESSION_RENEWAL decides,
    # default off), see zku_config_set_session_renewal;
    # acl: [[user, password, "cdrwa"], ...] (the default ACL of new nodes);
    # node_id, lock_dir, record_dir, seq_dir, tx_dir: text fields.
    def initialize(hosts: nil, session_timeout_ms: nil, connect_timeout_ms: nil, session_renewal: nil, auth: nil,
                   acl: [], **fields)
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_config_new(out, err) }
      super(out.read_pointer, :zku_config_free)
      Zkutil.check { |err| Native.zku_config_set_hosts(ptr, hosts, err) } if hosts
      Zkutil.check { |err| Native.zku_config_set_session_timeout_ms(ptr, session_timeout_ms, err) } if session_timeout_ms
      Zkutil.check { |err| Native.zku_config_set_connect_timeout_ms(ptr, connect_timeout_ms, err) } if connect_timeout_ms
      unless session_renewal.nil?
        Zkutil.check { |err| Native.zku_config_set_session_renewal(ptr, session_renewal, err) }
      end
      Zkutil.check { |err| Native.zku_config_set_auth(ptr, *auth, err) } if auth
      acl.each { |user, password, perms| Zkutil.check { |err| Native.zku_config_add_acl(ptr, user, password, perms, err) } }
      fields.each { |name, value| self[name] = value }
    end

    def self.coerce(config)
      case config
      when Config, nil then config
      when Hash then new(**config)
      else raise ArgumentError, "expected a Zkutil::Config or a Hash of options, got #{config.class}"
      end
    end

    def []=(field, value)
      Zkutil.check { |err| Native.zku_config_set(ptr, FIELDS.fetch(field), value, err) }
    end

    # The effective value of a text field.
    def [](field)
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_config_get(ptr, FIELDS.fetch(field), out, err) }
      Memory.take_string(out)
    end

    # A k3zkutil path: kind one of PATHS' keys, key a String or an Integer.
    def path(kind, key)
      out = Memory.out_pointer
      if key.is_a?(Integer)
        Zkutil.check { |err| Native.zku_config_path_id(ptr, PATHS.fetch(kind), key, out, err) }
      else
        Zkutil.check { |err| Native.zku_config_path(ptr, PATHS.fetch(kind), key, out, err) }
      end
      Memory.take_string(out)
    end
  end
end
