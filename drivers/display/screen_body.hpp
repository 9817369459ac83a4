// The guard screen below the status bar: the verdict with its shape (✓ / ! / ✗)
// and details, or, while idle, the viewfinder (camera picture, aiming box, hint).
// Private to drivers/display.
#pragma once

#include "drivers/display/display.hpp"

#include <opencv2/freetype.hpp>

namespace cp::display {

// Draws everything of `model` below y = top into `img` (already filled with the
// verdict colour).
void draw_body(cv::freetype::FreeType2& ft, cv::Mat& img, const ScreenModel& model, int top);

// The verdict's shape (GREEN tick in a ring, YELLOW "!" in a triangle, RED cross
// in a ring; nothing for idle) in the square of side `s` with its top-left at `at`.
void draw_shape(cv::Mat& img, Verdict v, cv::Point at, int s, const cv::Scalar& ink);

// The Chinese and English words of a hint ("请靠近", "Move closer"); empty for none.
const char* hint_zh(Hint h);
const char* hint_en(Hint h);

}  // namespace cp::display
