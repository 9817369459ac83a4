// The frame-difference gate on rendered lane frames: an empty lane is decoded
// only every refresh interval, a person walking in is decoded at once, a code
// in view is always decoded, sensor noise does not count as a change.
#include "drivers/camera/frame_gate.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

using namespace cp;
using namespace cp::camera;

namespace {

lane::LaneScript lane_with_one_person() {
    lane::LaneScript s;
    s.lead_frames = 30;
    lane::Person p;
    p.qr = "CP1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B3KL6QM5/OVGA/MAT%ZSGQK";
    p.effects.noise = 6.0;  // a noisy sensor: still not a change
    s.people.push_back(p);
    return s;
}

}  // namespace

TEST_CASE("frame gate: an empty lane idles the decoder, a person walking in wakes it") {
    const lane::LaneScript s = lane_with_one_person();
    FrameGate gate;
    std::int64_t t = 1000;
    int decoded = 0;
    // 30 empty frames at 30 fps (1 s): the first, the settling ones, then one per 500 ms.
    for (int i = 0; i < 30; ++i, t += 33) decoded += gate.should_decode(render_lane_frame(s, i, 640, 360, 5), t, false);
    CHECK(decoded >= 2);
    CHECK(decoded <= 6);
    CHECK(gate.skipped() >= 24);
    // The person arrives: frames change and are decoded.
    int arriving = 0;
    for (int i = 30; i < 30 + s.people[0].arrive_frames; ++i, t += 33)
        arriving += gate.should_decode(render_lane_frame(s, i, 640, 360, 5), t, false);
    // (The very first arriving frame may still show the person outside the picture.)
    CHECK(arriving >= s.people[0].arrive_frames - 1);
    // A code in view is decoded on every frame, changed or not.
    const Frame still = render_lane_frame(s, 40, 640, 360, 5);
    for (int i = 0; i < 10; ++i, t += 33) CHECK(gate.should_decode(still, t, true));
    // The same still picture without a code read: idle again but for the refresh.
    int idle = 0;
    for (int i = 0; i < 30; ++i, t += 33) idle += gate.should_decode(still, t, false);
    CHECK(idle <= 3);
}

TEST_CASE("frame gate: a frame it cannot read is passed to the decoder to refuse") {
    FrameGate gate;
    Frame f;
    f.width = 100;
    f.height = 100;
    f.stride = 10;
    CHECK(gate.should_decode(f, 0, false));
    CHECK(gate.should_decode(f, 1, false));
}
