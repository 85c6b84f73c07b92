/// Turns a prompt into token ids for the Reasoner's learned prompt embedding.
///
/// Lowercase words (letters and digits); a fixed vocabulary of the words the task families'
/// prompts use (colours, objects, directions, verbs), then `hashBuckets` ids shared by every other
/// word by a stable hash (FNV-1a), so an unseen word still maps to a fixed id. The vocabulary is
/// part of the model: changing it invalidates trained checkpoints.
public struct PromptTokenizer: Sendable {
    /// Most tokens kept from a prompt; the rest is cut.
    public static let maxTokens = 32
    public static let hashBuckets = 64

    public static let vocabulary: [String] = [
        // colours
        "red", "green", "blue", "yellow", "orange", "purple", "pink", "cyan", "magenta", "black",
        "white", "grey", "gray", "brown", "teal", "dark", "light",
        // objects
        "ball", "circle", "square", "squares", "target", "goal", "wall", "walls", "maze", "cross",
        "crosses", "obstacle", "obstacles", "object", "objects", "piece", "pieces", "shape", "shapes",
        "outline", "outlines", "slot", "slots", "block", "blocks", "bar", "bars", "dot", "dots",
        "star", "triangle", "box", "boxes", "cell", "cells", "grid", "path", "line", "exit", "marker",
        // verbs
        "move", "moves", "moving", "slide", "push", "put", "place", "bring", "reach", "reaches",
        "avoid", "avoiding", "touch", "touching", "touches", "stay", "stays", "keep", "cross",
        "go", "travel", "navigate", "sort", "arrange", "order", "align", "fit", "match", "solve",
        "collide", "colliding", "pass", "follow",
        // directions and relations
        "left", "right", "up", "down", "top", "bottom", "to", "from", "into", "onto", "through",
        "around", "over", "under", "between", "without", "with", "along", "toward", "towards", "by",
        "in", "on", "of", "at", "its", "their", "each", "every", "all", "the", "a", "an", "and",
        "or", "so", "that", "they", "it", "is", "are", "by", "size", "smallest", "largest", "small",
        "large", "big", "short", "tall", "shortest", "tallest", "ascending", "descending",
        "increasing", "decreasing", "horizontal", "vertical", "horizontally", "vertically", "axis",
        "row", "column", "matching", "same", "colour", "color", "own", "corresponding", "where",
        "end", "finish", "final", "position", "positions", "place", "still", "fixed", "in", "order",
        "one", "two", "three", "four", "five", "first", "last", "next", "other", "any", "not", "no",
        // words of the generated families' prompts
        "cream", "pale", "post", "l", "t", "corner", "disc", "discs", "rearrange", "read", "overlapping",
        "whole", "them", "crosses", "pieces",
    ]

    /// word -> id, first occurrence wins.
    public let ids: [String: Int]
    /// Number of distinct ids: the vocabulary plus the hash buckets.
    public let size: Int

    /// The vocabulary's ids, built once.
    private static let table: [String: Int] = {
        var m = [String: Int]()
        for w in vocabulary where m[w] == nil { m[w] = m.count }
        return m
    }()

    public init() {
        ids = PromptTokenizer.table
        size = ids.count + PromptTokenizer.hashBuckets
    }

    /// Lowercase words of letters and digits, in order.
    public static func words(_ prompt: String) -> [String] {
        var out: [String] = [], cur = ""
        for ch in prompt.lowercased() {
            if ch.isLetter || ch.isNumber { cur.append(ch) } else if !cur.isEmpty { out.append(cur); cur = "" }
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    /// Token ids, at most `maxTokens`; never empty (an empty prompt gives one hashed id).
    public func encode(_ prompt: String) -> [Int] {
        var out: [Int] = []
        for w in PromptTokenizer.words(prompt).prefix(PromptTokenizer.maxTokens) {
            if let id = ids[w] { out.append(id) } else { out.append(ids.count + Int(PromptTokenizer.fnv1a(w) % UInt64(PromptTokenizer.hashBuckets))) }
        }
        if out.isEmpty { out.append(ids.count + Int(PromptTokenizer.fnv1a("") % UInt64(PromptTokenizer.hashBuckets))) }
        return out
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
        return h
    }
}
