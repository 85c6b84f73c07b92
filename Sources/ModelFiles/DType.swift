/// Element types of safetensors, with their names as written in the header.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// Whether `SafetensorsFile.floats` converts this type.
    public var isReadableAsFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// Conversions between Float and the 16-bit float formats, bit-exact and little-endian.
enum HalfBits {
    /// IEEE binary16, round to nearest even (overflow to infinity, NaN kept NaN).
    @inline(__always) static func f16(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    @inline(__always) static func float(f16 bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// bfloat16: the top 16 bits of binary32, rounded to nearest even; NaN stays a quiet NaN.
    @inline(__always) static func bf16(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
        let rounding: UInt32 = 0x7FFF + ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: (b &+ rounding) >> 16)
    }

    @inline(__always) static func float(bf16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
