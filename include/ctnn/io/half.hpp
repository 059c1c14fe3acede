#pragma once
// Bit-exact conversions between float32 and the two 16-bit float formats found in model files:
//   float16  (IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits)
//   bfloat16 (the upper half of a float32: 1 sign, 8 exponent, 7 mantissa bits)
//
// The 16-bit values are passed around as their raw bit patterns (std::uint16_t), as they are stored in
// files. Narrowing rounds to nearest, ties to even (what PyTorch and the hardware do); NaN stays NaN;
// overflow becomes infinity; subnormals are handled in both directions.

#include <bit>       // std::bit_cast
#include <cstdint>   // std::uint16_t, std::uint32_t

namespace ctnn {

// float16 bits -> float32. Exact: every float16 value is representable as a float32.
constexpr float float16_to_float(std::uint16_t half_bits) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(half_bits & 0x8000u) << 16;
  const std::uint32_t exponent = (half_bits >> 10) & 0x1Fu;
  const std::uint32_t mantissa = half_bits & 0x3FFu;
  if (exponent == 0x1Fu) {
    // Infinity or NaN: keep the NaN payload in the top mantissa bits.
    return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    // Zero or subnormal: the value is mantissa * 2^-24, which float32 holds exactly.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  // Normal: rebias the exponent from 15 to 127.
  return std::bit_cast<float>(sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13));
}

// float32 -> float16 bits, rounding to nearest even.
constexpr std::uint16_t float_to_float16(float value) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;

  if (magnitude > 0x7F800000u) {
    // NaN: keep the top payload bits and force the quiet bit so a payload living only in the
    // dropped low bits cannot turn the NaN into infinity.
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  if (magnitude >= 0x477FF000u) {
    // At or above 65520 (halfway between the largest float16, 65504, and 2^16) rounds to infinity;
    // this also covers infinity itself.
    return static_cast<std::uint16_t>(sign | 0x7C00u);
  }
  if (magnitude >= 0x38800000u) {
    // Normal float16 range (>= 2^-14): round the 13 dropped mantissa bits to nearest even. A carry
    // out of the mantissa correctly bumps the exponent.
    const std::uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | ((rounded - ((127u - 15u) << 23)) >> 13));
  }
  const std::uint32_t exponent = magnitude >> 23;
  if (exponent < 102) {
    // Below 2^-25 (half the smallest subnormal): rounds to zero.
    return static_cast<std::uint16_t>(sign);
  }
  // Subnormal float16: the result counts units of 2^-24. The float32 value is
  // full_mantissa * 2^(exponent - 150), so the count is full_mantissa >> (126 - exponent), rounded.
  const std::uint32_t full_mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;
  const std::uint32_t shift = 126u - exponent;  // 14 .. 24
  std::uint32_t units = full_mantissa >> shift;
  const std::uint32_t remainder = full_mantissa & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1u);
  if (remainder > halfway || (remainder == halfway && (units & 1u) != 0)) {
    ++units;  // may reach 0x400, which is exactly the bit pattern of the smallest normal
  }
  return static_cast<std::uint16_t>(sign | units);
}

// bfloat16 bits -> float32. Exact: bfloat16 is a truncated float32.
constexpr float bfloat16_to_float(std::uint16_t bfloat_bits) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bfloat_bits) << 16);
}

// float32 -> bfloat16 bits, rounding to nearest even.
constexpr std::uint16_t float_to_bfloat16(float value) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
    // NaN: truncate and force the quiet bit so the result cannot become infinity.
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  }
  // Round the 16 dropped bits to nearest even; overflow of the largest finite values carries into
  // the exponent and yields infinity, as it should.
  const std::uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

}  // namespace ctnn
