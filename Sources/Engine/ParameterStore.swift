import Foundation

/// A table of named float tensors that live in one allocation, with their gradients and the
/// optimiser's two moment buffers each in one allocation of the same layout, so an optimiser
/// step is one flat loop and saving or loading is a walk over the table.
///
/// Tensors are laid out in the order they were added, so tensors added one after another are
/// contiguous (the DiT stack relies on this to run q, k and v as one matrix product).
/// Gradients and moments are allocated on demand: a frozen base model carries neither.
public final class ParameterStore {
    /// One named tensor: `offset` floats into each of the store's buffers, `shape` row-major.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    private var indexByName: [String: Int] = [:]
    /// Total floats in the store.
    public private(set) var count = 0

    /// Parameter values `[count]`; nil until `allocate()`.
    public private(set) var values: FloatPointer?
    /// Gradients `[count]`; nil until `allocateGradients()`.
    public private(set) var grads: FloatPointer?
    /// AdamW first and second moments `[count]` each; nil until an optimiser asks for them.
    public private(set) var m: FloatPointer?
    public private(set) var v: FloatPointer?

    public init() {}

    deinit {
        values?.deallocate(); grads?.deallocate(); m?.deallocate(); v?.deallocate()
    }

    /// Declares a tensor; returns its index in the table. Only before `allocate()`.
    @discardableResult
    public func add(_ name: String, _ shape: [Int]) -> Int {
        precondition(values == nil, "ParameterStore.add(\(name)): the store is already allocated")
        precondition(indexByName[name] == nil, "ParameterStore.add: duplicate tensor name \(name)")
        precondition(!shape.isEmpty && shape.allSatisfy { $0 > 0 }, "ParameterStore.add(\(name)): bad shape \(shape)")
        let e = Entry(name: name, shape: shape, offset: count)
        entries.append(e)
        indexByName[name] = entries.count - 1
        count += e.count
        return entries.count - 1
    }

    /// Allocates the values, zeroed.
    public func allocate() {
        precondition(values == nil, "ParameterStore.allocate: already allocated")
        values = Self.zeroed(count)
    }

    /// Allocates zeroed gradients if they are not there yet.
    public func allocateGradients() {
        if grads == nil { grads = Self.zeroed(count) }
    }

    /// Allocates zeroed optimiser moments if they are not there yet.
    public func allocateMoments() {
        if m == nil { m = Self.zeroed(count) }
        if v == nil { v = Self.zeroed(count) }
    }

    /// Frees gradients and moments (a model that is frozen from now on).
    public func releaseGradientsAndMoments() {
        grads?.deallocate(); grads = nil
        m?.deallocate(); m = nil
        v?.deallocate(); v = nil
    }

    public func zeroGradients() {
        if let g = grads { g.update(repeating: 0, count: count) }
    }

    /// Zeroes the optimiser moments (a new phase of training starts from fresh ones).
    public func zeroMoments() {
        m?.update(repeating: 0, count: count)
        v?.update(repeating: 0, count: count)
    }

    public func index(of name: String) -> Int? { indexByName[name] }

    public func entry(_ name: String) -> Entry? { indexByName[name].map { entries[$0] } }

    /// Pointer to the values of tensor `i`.
    public func value(_ i: Int) -> FloatPointer {
        guard let p = values else { preconditionFailure("ParameterStore: values used before allocate()") }
        return p + entries[i].offset
    }

    /// Pointer to the gradient of tensor `i`, or nil when gradients are not allocated.
    public func grad(_ i: Int) -> FloatPointer? { grads.map { $0 + entries[i].offset } }

    public func value(_ name: String) -> FloatPointer {
        guard let i = indexByName[name] else { preconditionFailure("ParameterStore: no tensor named \(name)") }
        return value(i)
    }

    /// Copies a tensor's values out.
    public func array(_ name: String) -> [Float] {
        guard let e = entry(name) else { preconditionFailure("ParameterStore: no tensor named \(name)") }
        return Array(UnsafeBufferPointer(start: value(name), count: e.count))
    }

    /// Sets a tensor's values; the count must match its shape.
    public func set(_ name: String, _ data: [Float]) throws {
        guard let e = entry(name) else { throw EngineError.unknownParameter(name) }
        guard data.count == e.count else {
            throw EngineError.shapeMismatch(name: name, expected: e.shape, gotCount: data.count)
        }
        data.withUnsafeBufferPointer { value(name).update(from: $0.baseAddress!, count: e.count) }
    }

    private static func zeroed(_ n: Int) -> FloatPointer {
        let p = FloatPointer.allocate(capacity: max(n, 1))
        p.initialize(repeating: 0, count: max(n, 1))
        return p
    }
}

/// Errors the engine reports to its callers (shape and name problems in what they pass in).
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case unknownParameter(String)
    case shapeMismatch(name: String, expected: [Int], gotCount: Int)
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .unknownParameter(let n):
            return "no parameter named '\(n)' in this model; check the name against the model's parameter table"
        case .shapeMismatch(let n, let shape, let got):
            return "parameter '\(n)' has shape \(shape) (\(shape.reduce(1, *)) values) but \(got) values were given; the file was made for a model of another size"
        case .invalidConfiguration(let m):
            return "invalid engine configuration: \(m)"
        }
    }
}
