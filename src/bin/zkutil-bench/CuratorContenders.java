import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.retry.RetryNTimes;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;

/** Curator's contenders for zkutil-bench (contention.rs speaks the same protocol as the
 *  bench's own `contend` role): one contender per ROLE argument (mutex: an InterProcessMutex;
 *  read/write: a side of an InterProcessReadWriteLock), all on PATH, on one connection
 *  (CONNECTIONS "one": threads on one client) or one connection each ("each": separate
 *  clients in this JVM). Warms the JIT up on a path of its own, prints "ready", waits for a line
 *  on stdin, then each contender takes ROUNDS turns (acquire, release at once) on a thread of
 *  its own. At the end it prints every turn's stamps as "E <contender> <role> want|held|release
 *  <System.nanoTime()>" (CLOCK_MONOTONIC on Linux: the clock the bench stamps with, shared by
 *  all processes).
 *  Usage: CuratorContenders HOSTS PATH ROUNDS one|each ROLE... */
public class CuratorContenders {
    static final int WARMUP_TURNS = 200;

    static InterProcessLock lock(CuratorFramework c, String path, String role) {
        switch (role) {
            case "mutex": return new InterProcessMutex(c, path);
            case "read": return new InterProcessReadWriteLock(c, path).readLock();
            case "write": return new InterProcessReadWriteLock(c, path).writeLock();
            default: throw new IllegalArgumentException("unknown role " + role);
        }
    }

    static CuratorFramework connect(String hosts) throws InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, 10000, 10000, new RetryNTimes(3, 100));
        c.start();
        c.blockUntilConnected();
        return c;
    }

    public static void main(String[] args) throws Exception {
        String hosts = args[0], path = args[1];
        int rounds = Integer.parseInt(args[2]);
        boolean each = args[3].equals("each");
        int n = args.length - 4;
        List<CuratorFramework> clients = new ArrayList<>();
        String[] roles = new String[n];
        InterProcessLock[] locks = new InterProcessLock[n];
        for (int i = 0; i < n; i++) {
            if (i == 0 || each) clients.add(connect(hosts));
            roles[i] = args[4 + i];
            locks[i] = lock(clients.get(clients.size() - 1), path, roles[i]);
        }
        InterProcessLock warm = lock(clients.get(0), path + "-warmup-" + ProcessHandle.current().pid(), roles[0]);
        for (int i = 0; i < WARMUP_TURNS; i++) {
            warm.acquire();
            warm.release();
        }
        System.out.println("ready");
        System.out.flush();
        if (new BufferedReader(new InputStreamReader(System.in)).readLine() == null) {
            System.exit(0); // the bench went away before the start
        }

        long[][] stamps = new long[n][3 * rounds];
        Thread[] threads = new Thread[n];
        for (int i = 0; i < n; i++) {
            final int who = i;
            threads[i] = new Thread(() -> {
                try {
                    for (int r = 0; r < rounds; r++) {
                        stamps[who][3 * r] = System.nanoTime();
                        locks[who].acquire();
                        stamps[who][3 * r + 1] = System.nanoTime();
                        stamps[who][3 * r + 2] = System.nanoTime();
                        locks[who].release();
                    }
                } catch (Exception e) {
                    e.printStackTrace();
                    System.exit(1);
                }
            });
            threads[i].start();
        }
        for (Thread t : threads) t.join();
        String[] kinds = {"want", "held", "release"};
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 3 * rounds; k++) {
                out.append("E ").append(i).append(' ').append(roles[i]).append(' ')
                    .append(kinds[k % 3]).append(' ').append(stamps[i][k]).append('\n');
            }
        }
        System.out.print(out);
        System.out.flush();
        for (CuratorFramework c : clients) c.close();
    }
}
