import Engine
import Reasoner

/// A tiny Reasoner whose every weight is random, so that each part of it (the adaLN gates that
/// DiT starts at zero, the output head) carries a gradient: the smallest model on which the
/// adaptation can move a video. Quick enough for a debug build.
func tinyRandomReasoner(seed: UInt64 = 3) -> Reasoner {
    let r = Reasoner.makeTiny(seed: seed)
    var rng = Engine.SplitMix64(seed: seed &+ 100)
    for e in r.store.entries where e.shape.count == 2 {
        let p = r.store.value(e.name)
        if (0..<e.count).allSatisfy({ p[$0] == 0 }) {
            for i in 0..<e.count { p[i] = rng.normal() * 0.05 }
        }
    }
    return r
}
