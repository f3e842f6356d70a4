using Updraft.Interceptor.Transport;

namespace Updraft.Interceptor.Tests.Transport;

/// <summary>The handshake between an operation that found its socket drained and the loop thread that signals events.</summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task WaitAsync_EventRacesTheWait_NoWakeupIsLost()
    {
        // Two threads pass a token back and forth the way a socket operation and the loop do: the receiver takes a
        // snapshot, looks for the token (the read), marks itself drained if it is not there, and waits; the sender
        // hands the token over, then signals. Signals land anywhere in the receiver's wait, including between its
        // check and its state change. A lost wakeup shows as a wait that ends only at its timeout.
        const int Rounds = 200_000;
        var sides = new[] { new Readiness(), new Readiness() };
        var handedOver = new int[2];
        var lost = 0;

        void Play(int me)
        {
            var mine = sides[me];
            var other = 1 - me;
            for (var round = 0; round < Rounds; round++)
            {
                // Player 0 starts with the token; player 1 receives first.
                var needed = me == 0 ? round : round + 1;
                while (true)
                {
                    var snapshot = mine.Snapshot();
                    if (Volatile.Read(ref handedOver[other]) >= needed)
                    {
                        break;
                    }

                    mine.Drained(snapshot);
                    var wait = mine.WaitAsync(CancellationToken.None);
                    if (!wait.IsCompleted && !wait.AsTask().Wait(TimeSpan.FromSeconds(10)))
                    {
                        Interlocked.Increment(ref lost);
                    }
                }

                Interlocked.Increment(ref handedOver[me]);
                sides[other].Signal();
            }
        }

        var first = Task.Factory.StartNew(() => Play(0), TaskCreationOptions.LongRunning);
        var second = Task.Factory.StartNew(() => Play(1), TaskCreationOptions.LongRunning);
        await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(0, lost);
        Assert.Equal([Rounds, Rounds], handedOver);
    }
}
