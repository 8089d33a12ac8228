import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.Collection;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;

/** A Curator InterProcessMutex contender for tests/fifo_interop.rs.
 *  Usage: CuratorMutex HOSTS LOCK_PATH LOG ID ROUNDS. Each round: acquire, append
 *  "enter ID HOLDER" (HOLDER: the data of the first participant node, as Curator sees it)
 *  and "exit ID" to LOG, release. Node data (Curator's default data) is ID. */
public class CuratorMutex {
    public static void main(String[] args) throws Exception {
        String hosts = args[0], path = args[1], log = args[2], id = args[3];
        int rounds = Integer.parseInt(args[4]);
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(hosts)
            .retryPolicy(new RetryNTimes(3, 100)).defaultData(id.getBytes(StandardCharsets.UTF_8)).build();
        c.start();
        c.blockUntilConnected();
        InterProcessMutex m = new InterProcessMutex(c, path);
        for (int r = 0; r < rounds; r++) {
            m.acquire();
            Collection<String> nodes = m.getParticipantNodes();
            String first = nodes.iterator().next();
            String holder = new String(c.getData().forPath(first), StandardCharsets.UTF_8);
            append(log, "enter " + id + " " + holder);
            Thread.sleep(2);
            append(log, "exit " + id);
            m.release();
        }
        c.close();
    }

    static void append(String log, String line) throws Exception {
        Files.write(Paths.get(log), (line + "\n").getBytes(StandardCharsets.UTF_8),
            StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
}
