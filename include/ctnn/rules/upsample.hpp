#pragma once
// Upsample's arithmetic, one element at a time, as PyTorch 1.13 computes nn.Upsample with an
// integer scale factor F (align_corners=False). The CPU evaluator (ctnn/cpu/upsample.hpp) and the
// GPU's kernels (ctnn/cuda/kernels/upsample.hpp) are compiled from this same text. Planes are one
// channel of one image, row-major.
//
//   nearest    y[oh][ow] = x[oh / F][ow / F]
//   bilinear   along each axis, output o reads src = (o + 1/2) / F - 1/2, clamped at 0:
//              x[i0] * (1 - l) + x[i0 + 1] * l,  i0 = floor(src), l = src - i0 (x[i0] alone at
//              the last input); the rows' results are blended the same way
// Backward gathers, for each input element, what every output that read it received:
//   nearest    dx[ih][iw] = sum of dy over the F x F block it was copied to
//   bilinear   dx[ih][iw] = sum over outputs (oh, ow) of weight_h(oh, ih) * weight_w(ow, iw) * dy[oh][ow],
//              where only outputs with src in (ih - 1, ih + 1) have a weight: oh in [(ih - 1) F, (ih + 2) F)

#include <ctnn/config.hpp>         // CTNN_HOST_DEVICE
#include <ctnn/rules/source.hpp>   // CTNN_SHARED_SOURCE

namespace ctnn::rules {

CTNN_SHARED_SOURCE(upsample_rules_source,

template <class T>
struct LinearTap {
  long long i0, i1;
  T w0, w1;
};

template <class T>
CTNN_HOST_DEVICE inline LinearTap<T> linear_tap(long long o, long long in_size, long long factor) {
  const T scale = T(1) / T(factor);
  T src = scale * (T(o) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  LinearTap<T> tap;
  tap.i0 = (long long)src;
  tap.i1 = tap.i0 < in_size - 1 ? tap.i0 + 1 : tap.i0;
  tap.w1 = src - T(tap.i0);
  tap.w0 = T(1) - tap.w1;
  return tap;
}

template <class T>
CTNN_HOST_DEVICE inline T linear_weight(long long o, long long i, long long in_size, long long factor) {
  const LinearTap<T> tap = linear_tap<T>(o, in_size, factor);
  return (tap.i0 == i ? tap.w0 : T(0)) + (tap.i1 == i ? tap.w1 : T(0));
}

template <class T>
CTNN_HOST_DEVICE inline T upsample_at(bool bilinear, const T* x_plane, long long in_height, long long in_width,
                                      long long factor, long long oh, long long ow) {
  if (!bilinear) return x_plane[(oh / factor) * in_width + ow / factor];
  const LinearTap<T> h = linear_tap<T>(oh, in_height, factor), w = linear_tap<T>(ow, in_width, factor);
  const T* row0 = x_plane + h.i0 * in_width;
  const T* row1 = x_plane + h.i1 * in_width;
  return (row0[w.i0] * w.w0 + row0[w.i1] * w.w1) * h.w0 + (row1[w.i0] * w.w0 + row1[w.i1] * w.w1) * h.w1;
}

template <class T>
CTNN_HOST_DEVICE inline T upsample_gradient_at(bool bilinear, const T* dy_plane, long long in_height,
                                               long long in_width, long long factor, long long ih, long long iw) {
  const long long out_height = in_height * factor, out_width = in_width * factor;
  T sum = T(0);
  if (!bilinear) {
    for (long long oh = ih * factor; oh < (ih + 1) * factor; ++oh)
      for (long long ow = iw * factor; ow < (iw + 1) * factor; ++ow) sum += dy_plane[oh * out_width + ow];
    return sum;
  }
  const long long oh_begin = ih > 0 ? (ih - 1) * factor : 0, ow_begin = iw > 0 ? (iw - 1) * factor : 0;
  const long long oh_end = (ih + 2) * factor < out_height ? (ih + 2) * factor : out_height;
  const long long ow_end = (iw + 2) * factor < out_width ? (iw + 2) * factor : out_width;
  for (long long oh = oh_begin; oh < oh_end; ++oh) {
    const T weight_h = linear_weight<T>(oh, ih, in_height, factor);
    if (weight_h == T(0)) continue;
    T row = T(0);
    for (long long ow = ow_begin; ow < ow_end; ++ow) {
      const T weight_w = linear_weight<T>(ow, iw, in_width, factor);
      if (weight_w != T(0)) row += weight_w * dy_plane[oh * out_width + ow];
    }
    sum += weight_h * row;
  }
  return sum;
}

)

}  // namespace ctnn::rules
