// A healthy Java program whose threads block a lot in the JVM's own pools: a fixed thread pool
// whose tasks are awaited through Futures, a chain of CompletableFutures on the common pool, and
// a parallel stream. It prints a fixed text and exits 0; under poolguard it must get no finding.
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.LongStream;

public class Healthy {
    public static void main(String[] args) throws Exception {
        System.out.println("Healthy: ready");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<Long>> futures = new ArrayList<>();
        for (long i = 0; i < 20000; i++) {
            final long x = i;
            futures.add(pool.submit(() -> x % 13));
        }
        long sum = 0;
        for (Future<Long> f : futures)
            sum += f.get();
        System.out.println("fixed pool: " + sum);

        // Tasks that wait for a CompletableFuture completed on another executor: nested done right.
        ExecutorService other = Executors.newFixedThreadPool(2);
        List<Future<Long>> nested = new ArrayList<>();
        for (long i = 0; i < 200; i++) {
            final long x = i;
            nested.add(pool.submit(() -> CompletableFuture.supplyAsync(() -> x * 2, other).get()));
        }
        long nsum = 0;
        for (Future<Long> f : nested)
            nsum += f.get();
        System.out.println("nested: " + nsum);

        CompletableFuture<Long> chain = CompletableFuture.supplyAsync(() -> 1L);
        for (int i = 0; i < 1000; i++)
            chain = chain.thenApplyAsync(v -> v + 1);
        System.out.println("completable: " + chain.get());

        long par = LongStream.range(0, 2_000_000).parallel().map(v -> v % 7).sum();
        System.out.println("parallel stream: " + par);

        pool.shutdown();
        other.shutdown();
        System.out.println("Healthy: done");
    }
}
