# frozen_string_literal: true

require_relative "test_helper"

class CasTest < ZkCase
  def test_four_workers_two_hundred_increments_each
    path = client.create(unique_path, "0")
    Array.new(4) do
      Thread.new { 200.times { client.cas_update(path, timeout_ms: 60_000) { |value, _stat| (value.to_i + 1).to_s } } }
    end.each(&:join)
    assert_equal "800", client.get(path).first
  end

  def test_block_raising_is_raised_after_the_call_and_nothing_is_written
    path = client.create(unique_path, "1")
    error = assert_raises(KeyError) { client.cas_update(path) { |_value, _stat| raise KeyError, "mine" } }
    assert_equal "mine", error.message
    data, stat = client.get(path)
    assert_equal ["1", 0], [data, stat.version]
  end

  def test_skip_create_and_handle
    path = unique_path
    stat, attempts = client.cas_update(path, create: true, initial: "a") { |value, stat| stat.nil? ? "#{value}b" : nil }
    assert_equal [0, 1], [stat.version, attempts]
    assert_equal "ab", client.get(path).first
    cas = client.cas_begin(path)
    assert_equal "ab", cas.value
    client.set(path, "other")
    assert_raises(Zkutil::BadVersion) { cas.commit("c") }
    cas.reread
    assert_equal 2, cas.commit("c").version
    assert_equal 2, cas.attempts
  end
end
