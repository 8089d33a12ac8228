# frozen_string_literal: true

require_relative "test_helper"

class ErrorsTest < ZkCase
  def test_missing_node_is_no_node
    path = unique_path
    error = assert_raises(Zkutil::NoNode) { client.get(path) }
    assert_equal Zkutil::ENONODE, error.code
    assert_includes error.message, path
  end

  def test_server_errors_map_to_their_classes
    path = unique_path
    client.create(path, "x")
    assert_raises(Zkutil::NodeExists) { client.create(path) }
    assert_raises(Zkutil::BadVersion) { client.set(path, "y", version: 7) }
    client.create("#{path}/child")
    assert_raises(Zkutil::NotEmpty) { client.delete(path) }
    assert_raises(Zkutil::BadJson) { client.get_json(path) }
  end

  def test_bad_input_is_refused_before_sending
    assert_raises(Zkutil::InvalidPath) { client.get("relative") }
    assert_raises(Zkutil::InvalidArgument) { client.get("/", timeout_ms: -5) }
    assert_raises(Zkutil::BadPermission) { Zkutil.perm_letters_to_mask("x") }
    assert_raises(Zkutil::InvalidHosts) { Zkutil::Config.new(hosts: "127.0.0.1:notaport") }
    assert_raises(Zkutil::DataTooLarge) { client.create(unique_path, "x" * (Zkutil::MAX_DATA_LEN + 1)) }
  end

  def test_helpers
    assert_equal "LNcZO17uqqJ4GuYoSclIsGjYniQ=", Zkutil.make_digest("xp:123")
    assert_equal %w[read write], Zkutil.perm_letters_to_names("rw")
    assert_equal "rw", Zkutil.perm_names_to_letters(%w[read write])
    assert_equal Zkutil::PERM_ALL, Zkutil.perm_names_to_mask(["all"])
    assert_equal "/lock/job", Zkutil::Config.new(lock_dir: "/lock/").path(:lock, "job")
    assert_equal 12, Zkutil.parse_lock_id("n-1.2.3.4-12-u").process_id
    assert_raises(Zkutil::AlreadyLocked) { Zkutil.backward_locking?(["a"], "a") }
  end

  def test_freed_handle_raises_closed
    c = Zkutil::Client.new(hosts: ZkTest.hosts)
    c.free
    assert_raises(Zkutil::Closed) { c.exists("/") }
  end
end
