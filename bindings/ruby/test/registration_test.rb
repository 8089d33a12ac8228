# frozen_string_literal: true

require_relative "test_helper"

class RegistrationTest < ZkCase
  # Drains `handle`'s IO until it reports `state` (within 10 s).
  def wait_for_state(handle, state)
    deadline = ZkTest.monotonic + 10
    until handle.drain == state
      left = deadline - ZkTest.monotonic
      flunk "state #{state} not reached" unless left.positive? && IO.select([handle.io], nil, nil, left)
    end
  end

  def test_recreated_after_an_operator_deletes_it_and_listed_by_members
    parent = unique_path("services")
    first = client.register("#{parent}/member-", "10.0.0.1:80", sequential: true)
    second = client.register("#{parent}/b", "10.0.0.2:80")
    assert_equal Zkutil::REGISTRATION_PRESENT, first.state
    assert_nil first.absent_reason
    first_path = first.path
    assert_match(%r{\A#{parent}/member-\d{10}\z}, first_path)
    assert_equal({ "b" => "10.0.0.2:80", File.basename(first_path) => "10.0.0.1:80" }, client.members(parent))

    states = Queue.new
    first.on_state { |_old, new| states << new }
    wait_for_state(first, Zkutil::REGISTRATION_PRESENT)
    Zkutil::Client.open(hosts: ZkTest.hosts) { |operator| operator.delete(first_path) }
    assert_equal Zkutil::REGISTRATION_ABSENT, states.pop
    assert_equal Zkutil::REGISTRATION_PRESENT, states.pop
    wait_for_state(first, Zkutil::REGISTRATION_PRESENT)
    refute_equal first_path, first.path, "a sequential node gets a new name"
    assert_equal "10.0.0.1:80", client.get(first.path).first

    second.set_data("10.0.0.2:81")
    assert_equal "10.0.0.2:81", client.members(parent)["b"]
    second.close
    assert_equal Zkutil::REGISTRATION_CLOSED, second.state
    assert_nil client.exists("#{parent}/b")
    assert_raises(Zkutil::Closed) { second.set_data("x") }
    first.free
    assert_equal({}, client.members(parent))
  end

  def test_absent_while_another_node_is_at_the_path
    path = client.create(unique_path, "someone else's")
    registration = client.register(path, "ours", timeout_ms: 2000)
    assert_equal Zkutil::REGISTRATION_ABSENT, registration.state
    assert_kind_of String, registration.absent_reason
    client.delete(path)
    wait_for_state(registration, Zkutil::REGISTRATION_PRESENT)
    assert_equal "ours", client.get(path).first
    registration.free
  end

  def test_bad_input
    assert_raises(Zkutil::InvalidPath) { client.register("relative") }
    assert_raises(Zkutil::InvalidArgument) { client.register(unique_path, ttl_ms: 1000) }
    assert_raises(Zkutil::InvalidArgument) { client.register(unique_path, timeout_ms: -7) }
    path = unique_path
    assert_raises(Zkutil::DataTooLarge) { client.register(path, "x" * (Zkutil::MAX_DATA_LEN + 1)) }
    assert_nil client.exists(path), "nothing written"
    assert_raises(Zkutil::NoNode) { client.members(unique_path) }
    assert_raises(Zkutil::InvalidPath) { client.members("no-slash") }
  end
end
