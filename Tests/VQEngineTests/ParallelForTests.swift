import CKernels
import Foundation
import Synchronization
import Testing
@testable import VQEngine

/// The engine's worker threads (CKernels/thread_pool.c through `parallelFor`): every iteration runs once, on
/// more than one thread, loops inside loops and loops from several threads at once finish, and idle workers go
/// to sleep instead of spinning on.
@Suite struct ParallelForTests {
    /// Counts how often each index ran; a loop that skipped or repeated an index leaves a count other than 1.
    final class Counts: @unchecked Sendable {
        let values: UnsafeMutableBufferPointer<Int>
        init(_ count: Int) { values = .allocate(capacity: count); values.initialize(repeating: 0) }
        deinit { values.deallocate() }
        var allOnce: Bool { values.allSatisfy { $0 == 1 } }
    }

    @Test func everyIterationRunsExactlyOnce() {
        var rng = RandomGenerator(seed: 7)
        for loop in 0..<3000 {
            let iterations = loop < 8 ? loop : 1 + Int(rng.next() % 300)
            let counts = Counts(iterations)
            parallelFor(iterations, threads: 2 + loop % 3) { i in counts.values[i] += 1 }
            #expect(counts.allOnce, "loop \(loop), \(iterations) iterations")
            if !counts.allOnce { return }
        }
    }

    /// Two iterations' meeting point: each says it arrived (bit i), then waits (at most 2 s) to see the other
    /// arrive, and says so (bit 2 + i).
    final class Meeting: Sendable {
        let bits = Atomic<Int>(0)
        let thread0 = Atomic<UInt>(0), thread1 = Atomic<UInt>(0)

        func meet(_ i: Int) {
            if i == 0 { thread0.store(UInt(pthread_self()), ordering: .relaxed) } else {
                thread1.store(UInt(pthread_self()), ordering: .relaxed)
            }
            bits.bitwiseOr(1 << i, ordering: .sequentiallyConsistent)
            let deadline = Date().addingTimeInterval(2)
            while bits.load(ordering: .sequentiallyConsistent) & (1 << (1 - i)) == 0, Date() < deadline {}
            if bits.load(ordering: .sequentiallyConsistent) & (1 << (1 - i)) != 0 {
                bits.bitwiseOr(1 << (2 + i), ordering: .sequentiallyConsistent)
            }
        }

        var metOnTwoThreads: Bool {
            bits.load(ordering: .sequentiallyConsistent) & 0b1100 == 0b1100
                && thread0.load(ordering: .relaxed) != thread1.load(ordering: .relaxed)
        }
    }

    @Test func iterationsRunOnMoreThanOneThreadAtOnce() async {
        // Both iterations can only see each other arrive if two threads run them at the same time. In a process
        // of its own: in this one, another test's loop may hold the pool, and a loop then runs on its caller.
        await #expect(processExitsWith: .success) {
            let meeting = Meeting()
            parallelFor(2, threads: 2) { meeting.meet($0) }
            exit(meeting.metOnTwoThreads && vq_parallel_workers_started() == 1 ? EXIT_SUCCESS : EXIT_FAILURE)
        }
    }

    @Test func aLoopInsideALoopRunsOnItsCallersThread() {
        let counts = Counts(40 * 25)
        parallelFor(40, threads: 2) { outer in
            parallelFor(25, threads: 2) { inner in counts.values[outer * 25 + inner] += 1 }
        }
        #expect(counts.allOnce)
    }

    @Test func loopsFromSeveralThreadsAtOnceAllFinish() {
        let callers = 4, loops = 300, iterations = 64
        let counts = Counts(callers * loops * iterations)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for loop in 0..<loops {
                let base = (caller * loops + loop) * iterations
                parallelFor(iterations, threads: 2) { i in counts.values[base + i] += 1 }
            }
        }
        #expect(counts.allOnce)
    }

    @Test func idleWorkersSleep() async {
        // In a process of its own, where no other test's loops keep the workers busy: after a loop, 400 ms of
        // idleness cost the workers far less than 400 ms of CPU time (a worker spinning on would use it all).
        await #expect(processExitsWith: .success) {
            parallelFor(8, threads: 2) { _ in usleep(2_000) }
            let before = vq_parallel_workers_cpu_seconds()
            usleep(400_000)
            let spent = vq_parallel_workers_cpu_seconds() - before
            if spent >= 0.1 { print("workers used \(spent) s of CPU in 0.4 s idle") }
            exit(spent < 0.1 && vq_parallel_workers_started() == 1 ? EXIT_SUCCESS : EXIT_FAILURE)
        }
    }
}
