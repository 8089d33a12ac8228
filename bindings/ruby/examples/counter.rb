# frozen_string_literal: true

# A counter under a lock, then the same with compare-and-swap, and a reader
# seeing the result; a FIFO mutex, and a registered member listed. ZKU_HOSTS names the server (default 127.0.0.1:2181).
#   ruby -Ibindings/ruby/lib bindings/ruby/examples/counter.rb
require "zkutil"
require "timeout"

Zkutil::Client.open(hosts: ENV.fetch("ZKU_HOSTS", "127.0.0.1:2181")) do |client|
  path = "/zkutil-ruby-example-#{Process.pid}"
  client.create(path, '{"count":0}')

  lock = client.lock("zkutil-ruby-example-#{Process.pid}")
  lock.synchronize do |token|
    json, stat = client.get_json(path)
    count = json[/\d+/].to_i + 1
    lock.guarded_set(path, %({"count":#{count}}), version: stat.version)
    puts "locked with fencing token #{token}, count #{count}"
  end

  reader = client.reader(path)
  stat, attempts = client.cas_update(path) { |value, _stat| value.sub(/\d+/) { |n| (n.to_i + 1).to_s } }
  puts "compare-and-swap wrote version #{stat.version} in #{attempts} attempt(s)"
  _old, new_json, = reader.watch(timeout_ms: 5000)
  puts "reader saw #{new_json}"

  begin
    Timeout.timeout(0.2) { client.wait_absent(path, timeout_ms: -1) }
  rescue Timeout::Error
    puts "wait_absent interrupted by Timeout"
  end

  begin
    client.get("#{path}/missing")
  rescue Zkutil::NoNode => e
    puts "#{e.class}: #{e.message}"
  end

  fifo = client.fifo("zkutil-ruby-example-fifo-#{Process.pid}")
  fifo.synchronize { |token| puts "FIFO mutex held with fencing token #{token}" }
  fifo_path = fifo.path
  fifo.free
  client.delete(fifo_path) # the lock path stays after its last holder

  members = "#{path}-members"
  registration = client.register("#{members}/instance-", "127.0.0.1:8080", sequential: true)
  puts "members: #{client.members(members).values.inspect}"
  registration.free
  client.delete(members)

  reader.free
  client.delete(path)
end
