# frozen_string_literal: true

require_relative "test_helper"
require "json"

class RecipesTest < ZkCase
  def test_lock_with_its_own_client
    states = Queue.new
    lock = Zkutil::Lock.open("ruby-own-#{SecureRandom.hex(4)}", config: { hosts: ZkTest.hosts }) { |_old, new| states << new }
    token = lock.acquire(timeout_ms: 5000)
    assert_equal Zkutil::LOCK_HELD, states.pop
    assert_equal token, lock.token
    assert_equal 1, lock.set_val('{"step":1}')
    val, version = lock.get_val
    assert_equal [{ "step" => 1 }, 1], [JSON.parse(val), version]
    lock.free
    assert_raises(ArgumentError) { Zkutil::Lock.open("x", config: { hosts: ZkTest.hosts }) }
  end

  def test_guarded_writes_need_the_lock
    path = client.create(unique_path, "a")
    lock = client.lock("ruby-guard-#{SecureRandom.hex(4)}")
    assert_raises(Zkutil::NotLocked) { lock.guarded_set(path, "b") }
    lock.synchronize do
      assert_equal 1, lock.guarded_set(path, "b").version
      lock.guarded_delete(path)
    end
    assert_nil client.exists(path)
  end

  def test_session_renewal_option
    Zkutil::Client.open(hosts: ZkTest.hosts, session_renewal: true) do |renewing|
      assert_equal Zkutil::STATE_CONNECTED, renewing.state
      path = unique_path
      renewing.create(path, "value")
      assert_equal "value", renewing.get(path).first
    end
  end

  def test_digest_acl_and_auth
    path = unique_path
    client.create(path, "secret", acl: [Zkutil::Acl.digest("xp", "123", "cdrwa")])
    assert_raises(Zkutil::NoAuth) { client.get(path) }
    client.add_auth("digest", "xp:123")
    acl, = client.get_acl(path)
    assert_equal [Zkutil::Acl.new(Zkutil::PERM_ALL, "digest", "xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=")], acl
    assert_equal "secret", client.get(path).first
    client.set_acl(path, [Zkutil::Acl.world])
  end

  def test_hierarchy_import_export_and_waits
    root = unique_path
    stats = client.import_hierarchy('{"a": {"__val__": 1}, "b": {}}', root: root)
    assert_equal 3, stats[:created]
    assert_equal({ "__val__" => "1" }, JSON.parse(client.export_hierarchy(root, k3zkutil: true))["a"].slice("__val__"))
    assert_equal %w[a b], client.children(root).sort
    stats = Zkutil.init_hierarchy('{"c": {}}', config: { hosts: ZkTest.hosts }, root: root)
    assert_equal 1, stats[:created]
    data, stat = client.get_next("#{root}/a", version: -1)
    assert_equal ["1", 0], [data, stat.version]
    Thread.new { sleep 0.1; client.delete("#{root}/c") }
    client.wait_absent("#{root}/c", timeout_ms: 5000)
    assert_nil client.exists("#{root}/c")
  end
end
