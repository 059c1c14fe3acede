#pragma once
// Line plots of training curves, rasterised here and written as PNG files: side-by-side panels
// with axes, "nice" tick values, axis labels, a title and a legend per panel.
//
//   ctnn::train::Panel loss{"loss", "epoch", "cross-entropy", {{"train", x, train_loss, colors[0]},
//                                                               {"test", x, test_loss, colors[1]}}};
//   ctnn::train::write_png(ctnn::train::plot_panels({loss, accuracy}), "curves.png");
//
// Text uses stb_easy_font's built-in segment font (public domain, Debian's libstb-dev), scaled up
// by whole pixels; PNG encoding uses stb_image_write, compiled into this header as a private
// static copy (STB_IMAGE_WRITE_STATIC, in a namespace), so including it in several translation
// units or next to an application's own copy of stb is safe. The PNG is written atomically:
// a temporary file, then a rename.

#include <stdarg.h>   // stb_image_write: va_list (included before the namespace below)
#include <stdlib.h>   // stb: malloc, realloc, free, abs
#include <string.h>   // stb: memcpy, memmove
#include <math.h>     // stb: floor, sqrt
#include <assert.h>   // stb: assert

#include <algorithm>    // std::min, std::max, std::clamp
#include <array>        // std::array
#include <cmath>        // std::floor, std::ceil, std::log10, std::pow, std::abs, std::isfinite
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint8_t
#include <cstdio>       // std::snprintf
#include <filesystem>   // std::filesystem::path
#include <span>         // std::span
#include <string>       // std::string
#include <vector>       // std::vector

#include <ctnn/error.hpp>     // ctnn::Error
#include <ctnn/io/file.hpp>   // ctnn::io::write_file_atomically

// ---- stb, private copies ----------------------------------------------------------------------
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#pragma push_macro("INCLUDE_STB_IMAGE_WRITE_H")
#pragma push_macro("STB_IMAGE_WRITE_IMPLEMENTATION")
#pragma push_macro("STB_IMAGE_WRITE_STATIC")
#pragma push_macro("STBI_WRITE_NO_STDIO")
#pragma push_macro("STBIWDEF")
#pragma push_macro("INCLUDE_STB_EASY_FONT_H")
#undef INCLUDE_STB_IMAGE_WRITE_H
#undef STBIWDEF
#undef INCLUDE_STB_EASY_FONT_H
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO   // PNG bytes go to memory; the file is written atomically below
namespace ctnn::train::stb {
#include <stb/stb_image_write.h>   // stbi_write_png_to_func
#include <stb/stb_easy_font.h>     // stb_easy_font_print: text as quads
}  // namespace ctnn::train::stb
#pragma pop_macro("INCLUDE_STB_EASY_FONT_H")
#pragma pop_macro("STBIWDEF")
#pragma pop_macro("STBI_WRITE_NO_STDIO")
#pragma pop_macro("STB_IMAGE_WRITE_STATIC")
#pragma pop_macro("STB_IMAGE_WRITE_IMPLEMENTATION")
#pragma pop_macro("INCLUDE_STB_IMAGE_WRITE_H")
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace ctnn::train {

struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
};

// Colours for series, in order (matplotlib's first four).
inline constexpr std::array<Color, 4> series_colors{{{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}}};

// An RGB raster, row-major, 3 bytes per pixel.
class Canvas {
 public:
  Canvas(int width, int height, Color background = {255, 255, 255})
      : width_(width), height_(height), pixels_(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3) {
    fill_rect(0, 0, width, height, background);
  }
  int width() const { return width_; }
  int height() const { return height_; }
  std::span<const std::uint8_t> pixels() const { return pixels_; }

  void set(int x, int y, Color c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    std::uint8_t* p = &pixels_[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) + static_cast<std::size_t>(x)) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  Color get(int x, int y) const {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return {};
    const std::uint8_t* p = &pixels_[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) + static_cast<std::size_t>(x)) * 3];
    return {p[0], p[1], p[2]};
  }
  // Blends `c` over the pixel with opacity `alpha` in [0, 1].
  void blend(int x, int y, Color c, double alpha) {
    const Color old = get(x, y);
    const auto mix = [alpha](std::uint8_t a, std::uint8_t b) {
      return static_cast<std::uint8_t>(std::clamp(a * (1 - alpha) + b * alpha + 0.5, 0.0, 255.0));
    };
    set(x, y, {mix(old.r, c.r), mix(old.g, c.g), mix(old.b, c.b)});
  }
  void fill_rect(int x0, int y0, int x1, int y1, Color c) {  // [x0, x1) x [y0, y1)
    for (int y = std::max(y0, 0); y < std::min(y1, height_); ++y)
      for (int x = std::max(x0, 0); x < std::min(x1, width_); ++x) set(x, y, c);
  }

  // An anti-aliased line `thickness` pixels wide: each pixel is covered by its distance to the
  // segment (a capsule), which also rounds the joints of a polyline.
  void line(double x0, double y0, double x1, double y1, Color c, double thickness = 2.0) {
    const double radius = thickness / 2;
    const int left = static_cast<int>(std::floor(std::min(x0, x1) - radius - 1));
    const int right = static_cast<int>(std::ceil(std::max(x0, x1) + radius + 1));
    const int top = static_cast<int>(std::floor(std::min(y0, y1) - radius - 1));
    const int bottom = static_cast<int>(std::ceil(std::max(y0, y1) + radius + 1));
    const double dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy;
    for (int y = top; y <= bottom; ++y)
      for (int x = left; x <= right; ++x) {
        const double px = x + 0.5 - x0, py = y + 0.5 - y0;
        const double t = length2 > 0 ? std::clamp((px * dx + py * dy) / length2, 0.0, 1.0) : 0.0;
        const double ex = px - t * dx, ey = py - t * dy;
        const double coverage = std::clamp(radius + 0.5 - std::sqrt(ex * ex + ey * ey), 0.0, 1.0);
        if (coverage > 0) blend(x, y, c, coverage);
      }
  }

  // Text with its top-left corner at (x, y), `scale` pixels per font unit; vertical text reads
  // bottom to top with (x, y) its bottom-left corner. Characters outside ASCII 32..126 print as '?'.
  void text(int x, int y, const std::string& text, Color c, int scale = 2, bool vertical = false) {
    std::string clean = text;
    for (char& ch : clean)
      if (ch < 32 || ch > 126) ch = '?';
    std::vector<float> vertices(clean.size() * 64 * 4 + 64);  // stb: up to ~30 quads per character
    const int quads = stb::stb_easy_font_print(0, 0, clean.data(), nullptr, vertices.data(),
                                                static_cast<int>(vertices.size() * sizeof(float)));
    for (int q = 0; q < quads; ++q) {
      const float* v = &vertices[static_cast<std::size_t>(q) * 16];  // 4 vertices of x, y, z, colour
      const float qx0 = std::min(v[0], v[8]), qx1 = std::max(v[0], v[8]);
      const float qy0 = std::min(v[1], v[9]), qy1 = std::max(v[1], v[9]);
      const int ax0 = static_cast<int>(qx0 * scale), ax1 = static_cast<int>(qx1 * scale);
      const int ay0 = static_cast<int>(qy0 * scale), ay1 = static_cast<int>(qy1 * scale);
      if (vertical)  // rotate a quarter turn counter-clockwise about (x, y)
        fill_rect(x + ay0, y - ax1, x + ay1, y - ax0, c);
      else
        fill_rect(x + ax0, y + ay0, x + ax1, y + ay1, c);
    }
  }
  static int text_width(const std::string& text, int scale = 2) {
    int width = 0;
    for (char ch : text) width += (ch < 32 || ch > 126) ? 6 : (stb::stb_easy_font_charinfo[ch - 32].advance & 15);
    return width * scale;
  }
  static int text_height(int scale = 2) { return 9 * scale; }  // cap height plus descender, roughly

 private:
  int width_, height_;
  std::vector<std::uint8_t> pixels_;
};

// One curve of a panel; points with a non-finite coordinate are skipped (the line breaks there).
struct Series {
  std::string name;
  std::vector<double> x, y;
  Color color = series_colors[0];
};

struct Panel {
  std::string title;
  std::string x_label, y_label;
  std::vector<Series> series;
  bool legend_at_bottom = false;  // bottom right instead of top right (for rising curves)
};

namespace plot_detail {

// Tick values covering [low, high]: about `target` of them at 1, 2 or 5 times a power of ten.
// With `integers`, the step is at least 1 (epochs).
inline std::vector<double> nice_ticks(double low, double high, int target = 6, bool integers = false) {
  if (!(high > low)) high = low + 1;
  double raw = (high - low) / target;
  if (integers) raw = std::max(raw, 1.0);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0})
    if (factor * magnitude >= raw) {
      step = factor * magnitude;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(low / step - 1e-9) * step; t <= high + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

inline std::string tick_label(double value, double step) {
  const int decimals = step >= 1 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

inline void draw_panel(Canvas& canvas, const Panel& panel, int left, int top, int width, int height) {
  const Color ink{40, 40, 40}, grid{225, 225, 225};
  const int scale = 2;
  const int margin_left = 80, margin_right = 20, margin_top = 40, margin_bottom = 60;
  const int x0 = left + margin_left, x1 = left + width - margin_right;
  const int y0 = top + margin_top, y1 = top + height - margin_bottom;  // y0 is the top of the plot area

  // Data range, padded by 5% vertically.
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  bool integer_x = true;
  for (const Series& s : panel.series)
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      integer_x = integer_x && s.x[i] == std::floor(s.x[i]);
      xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
    }
  if (xmin > xmax) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax - xmin < 1e-12) xmin -= 0.5, xmax += 0.5;
  if (ymax - ymin < 1e-12) ymin -= 0.5, ymax += 0.5;
  const double pad = (ymax - ymin) * 0.05;
  ymin -= pad, ymax += pad;
  const auto px = [&](double x) { return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0); };
  const auto py = [&](double y) { return y1 - (y - ymin) / (ymax - ymin) * (y1 - y0); };

  // Grid and tick labels.
  const std::vector<double> xticks = nice_ticks(xmin, xmax, 8, integer_x), yticks = nice_ticks(ymin, ymax, 6);
  const double xstep = xticks.size() > 1 ? xticks[1] - xticks[0] : 1, ystep = yticks.size() > 1 ? yticks[1] - yticks[0] : 1;
  for (double t : xticks) {
    const int x = static_cast<int>(px(t) + 0.5);
    canvas.fill_rect(x, y0, x + 1, y1, grid);
    canvas.fill_rect(x, y1, x + 1, y1 + 6, ink);
    const std::string label = tick_label(t, xstep);
    canvas.text(x - Canvas::text_width(label, scale) / 2, y1 + 10, label, ink, scale);
  }
  for (double t : yticks) {
    const int y = static_cast<int>(py(t) + 0.5);
    canvas.fill_rect(x0, y, x1, y + 1, grid);
    canvas.fill_rect(x0 - 6, y, x0, y + 1, ink);
    const std::string label = tick_label(t, ystep);
    canvas.text(x0 - 10 - Canvas::text_width(label, scale), y - Canvas::text_height(scale) / 2, label, ink, scale);
  }
  // Axes, title, labels.
  canvas.fill_rect(x0, y0, x0 + 1, y1 + 1, ink);
  canvas.fill_rect(x0, y1, x1 + 1, y1 + 1, ink);
  canvas.text(left + (width - Canvas::text_width(panel.title, scale)) / 2, top + 10, panel.title, ink, scale);
  canvas.text(x0 + (x1 - x0 - Canvas::text_width(panel.x_label, scale)) / 2, y1 + 34, panel.x_label, ink, scale);
  canvas.text(left + 8, y0 + (y1 - y0 + Canvas::text_width(panel.y_label, scale)) / 2, panel.y_label, ink, scale, true);

  // Curves, with a dot on each point.
  for (const Series& s : panel.series) {
    bool have_previous = false;
    double last_x = 0, last_y = 0;
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        have_previous = false;
        continue;
      }
      const double x = px(s.x[i]), y = py(s.y[i]);
      if (have_previous) canvas.line(last_x, last_y, x, y, s.color, 2.5);
      canvas.line(x, y, x, y, s.color, 6);
      last_x = x, last_y = y, have_previous = true;
    }
  }
  // Legend, top right inside the plot area.
  int legend_width = 0;
  for (const Series& s : panel.series) legend_width = std::max(legend_width, Canvas::text_width(s.name, scale));
  const int lx = x1 - legend_width - 56, line_height = Canvas::text_height(scale) + 8;
  const int legend_height = line_height * static_cast<int>(panel.series.size());
  int ly = panel.legend_at_bottom ? y1 - 10 - legend_height : y0 + 10;
  canvas.fill_rect(lx - 10, ly - 8, x1 - 4, ly + legend_height, {255, 255, 255});
  canvas.fill_rect(lx - 10, ly - 8, x1 - 4, ly - 7, grid);
  canvas.fill_rect(lx - 10, ly + legend_height - 1, x1 - 4, ly + legend_height, grid);
  canvas.fill_rect(lx - 10, ly - 8, lx - 9, ly + legend_height, grid);
  canvas.fill_rect(x1 - 5, ly - 8, x1 - 4, ly + legend_height, grid);
  for (const Series& s : panel.series) {
    canvas.line(lx, ly + 8, lx + 28, ly + 8, s.color, 3);
    canvas.text(lx + 36, ly, s.name, ink, scale);
    ly += line_height;
  }
}

}  // namespace plot_detail

// The panels side by side, each `panel_width` x `height` pixels.
inline Canvas plot_panels(std::span<const Panel> panels, int panel_width = 640, int height = 480) {
  Canvas canvas(panel_width * static_cast<int>(std::max<std::size_t>(panels.size(), 1)), height);
  for (std::size_t i = 0; i < panels.size(); ++i)
    plot_detail::draw_panel(canvas, panels[i], static_cast<int>(i) * panel_width, 0, panel_width, height);
  return canvas;
}

// The PNG file's bytes.
inline std::vector<std::uint8_t> encode_png(const Canvas& canvas) {
  std::vector<std::uint8_t> bytes;
  const auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<std::uint8_t>*>(context);
    const auto* begin = static_cast<const std::uint8_t*>(data);
    out->insert(out->end(), begin, begin + size);
  };
  if (stb::stbi_write_png_to_func(append, &bytes, canvas.width(), canvas.height(), 3, canvas.pixels().data(),
                                  canvas.width() * 3) == 0)
    throw Error("encode_png", "stb_image_write could not encode the image");
  return bytes;
}

inline void write_png(const Canvas& canvas, const std::filesystem::path& path) {
  const std::vector<std::uint8_t> bytes = encode_png(canvas);
  io::write_file_atomically(path, bytes);
}

}  // namespace ctnn::train
