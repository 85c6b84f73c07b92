/// The words the varied and held-out looks phrase their prompts with.
///
/// Each choice lists the training wordings and the held-out ones; a held-out word never
/// appears in a `varied` prompt (the tests check every word of `heldOutWords`).
enum Wording {
    struct Choice {
        var varied: [String]
        var heldOut: [String]
    }

    static let move = Choice(varied: ["Move", "Guide", "Bring", "Take", "Get"], heldOut: ["Steer", "Ferry"])
    static let slide = Choice(varied: ["Slide", "Move", "Push"], heldOut: ["Shove", "Nudge"])
    static let ball = Choice(varied: ["ball", "dot", "disc", "circle"], heldOut: ["marble", "puck"])
    static let target = Choice(varied: ["target", "goal", "mark"], heldOut: ["destination", "finish"])
    static let reach = Choice(varied: ["to", "onto", "until it reaches"], heldOut: ["all the way to"])
    static let piece = Choice(varied: ["piece", "shape", "card"], heldOut: ["token", "tile piece"])
    static let outline = Choice(varied: ["outline", "slot", "place"], heldOut: ["silhouette", "socket"])
    static let avoidWalls = Choice(
        varied: ["without touching the walls", "without crossing any wall", "staying inside the corridors", "keeping off the walls"],
        heldOut: ["never passing through a wall", "keeping clear of every barrier"])
    static let avoidObstacles = Choice(
        varied: ["without touching any of the", "going around all the", "avoiding all of the"],
        heldOut: ["steering clear of all the", "never brushing any of the"])
    static let extra = Choice(
        varied: ["", "", "", " Slide smoothly.", " Move at a steady pace.", " Do not jump.", " One smooth motion.", " Keep everything else still."],
        heldOut: [" Glide gently.", " Take it step by step.", " Leave the rest untouched."])
    static let extraMany = Choice(
        varied: ["", "", " Slide smoothly.", " Keep every piece whole.", " Do not let them overlap.", " Move them all at once."],
        heldOut: [" Handle them in turn.", " Glide gently."])
    static let arrange = Choice(varied: ["Rearrange", "Reorder", "Sort", "Arrange"], heldOut: ["Shuffle", "Line up"])
    static let orderPhrase = Choice(varied: ["from left to right they read", "they read, left to right,", "their order from the left is"],
                                    heldOut: ["reading from the leftmost one they go"])

    static let waypoint = Choice(varied: ["passing over the", "going over the", "crossing the", "touching the"],
                                 heldOut: ["calling at the", "visiting the"])

    /// Every held-out word or phrase (lower case, whole words).
    static var heldOutWords: [String] {
        [move, slide, ball, target, reach, piece, outline, avoidWalls, avoidObstacles, extra, extraMany, arrange, orderPhrase, waypoint]
            .flatMap(\.heldOut).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
            .map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
    }

    /// Upper-cases the first letter.
    static func sentence(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
}

import Foundation
