#!/usr/bin/python3
"""A traveller entering the city, end to end, with every part real.

The real `upstream serve` with its console and the traveller registration (TEST-ONLY
PKI from tools/test-pki, the PKI's pass issuer); a traveller registers in Debian's
chromium on a phone-sized screen (the page reached from the entry point's poster URL);
the kind E pass QR on the page is captured and composed onto a phone-screen frame
(drawn by the browser at 1280x720); checkpointd at the entry lane (file camera
playing that frame, sync with the upstream on) shows GREEN; the arrival then is in
the destination grid's worklist, read through the console API as that grid's worker
and shown in the browser. Screenshots of the page, the pass, the poster, the
worklist and the big screen go to --images.

Exit 0 pass, 1 fail, 77 skip (no chromium, chromedriver or selenium).
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser_test as bt  # noqa: E402  (skips with 77 without selenium)
from browser_test import By, EC, log, run  # noqa: E402

WAIT_S = bt.WAIT_S
PASSWORD = bt.PASSWORD


def build_city(tmp, upstream, pki, db):
    rows = ["code,parent,name_zh,name_en", "hg,,鹤岗市,Hegang", "xy,hg,向阳区,Xiangyang", "xy-s1,xy,红军街道,Hongjun",
            "xy-s1-g1,xy-s1,11号网格,Grid 11", "gn,hg,工农区,Gongnong", "gn-s1,gn,红旗街道,Hongqi",
            "gn-s1-g1,gn-s1,21号网格,Grid 21"]
    with open(os.path.join(tmp, "areas.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    run([upstream, "areas", "import", "--db", db, "--csv", os.path.join(tmp, "areas.csv")])
    bt.add_operators(upstream, db, [("chief", "city", "hg"), ("worker-a", "grid", "xy-s1-g1"),
                                    ("worker-b", "grid", "gn-s1-g1")])
    run([upstream, "site", "add", "--db", db, "--code", "g11-east", "--area", "hg", "--name", "G11鹤岗东检查站",
         "--kind", "road-entry"])
    run([upstream, "site", "add", "--db", db, "--code", "rail-north", "--area", "hg", "--name", "鹤岗北站",
         "--kind", "rail-entry"])
    run([upstream, "enroll", "--db", db, "--cert", os.path.join(pki, "device-gate-03.crt")])
    run([upstream, "site", "assign", "--db", db, "--device", "gate-03", "--site", "g11-east"])


class Api:
    """An operator's session on the console API (cookie + CSRF), as the page has it."""

    def __init__(self, port, pki):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "fleet-ca.crt"))
        self.cookie = ""

    def call(self, method, path, body=None):
        c = http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=30)
        h = {"Content-Type": "application/json"}
        if self.cookie:
            h["Cookie"] = "__Host-cc_session=" + self.cookie
        c.request(method, path, json.dumps(body) if body is not None else None, h)
        r = c.getresponse()
        data = r.read()
        cookie = r.getheader("Set-Cookie") or ""
        c.close()
        if cookie.startswith("__Host-cc_session=") and "Max-Age=0" not in cookie:
            self.cookie = cookie.split("=", 1)[1].split(";", 1)[0]
        return r.status, json.loads(data) if data else {}

    def login(self, user):
        s, _ = self.call("POST", "/api/login", {"username": user, "password": PASSWORD})
        assert s == 200, "login %s: %d" % (user, s)
        return self


def wait_for(cond, what, seconds=WAIT_S):
    end = time.time() + seconds
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.25)
    raise AssertionError("timed out waiting for " + what)


def checkpointd_conf(tmp, pki, dev_port, frames):
    data = os.path.join(tmp, "lane")
    for d in ["data", "trust", "screens"]:
        os.makedirs(os.path.join(data, d), exist_ok=True)
    shutil.copy(os.path.join(pki, "issuer.crt"), os.path.join(data, "trust", "issuer.crt"))
    conf = os.path.join(tmp, "checkpointd-%s.conf" % os.path.basename(frames))
    with open(conf, "w") as f:
        f.write("\n".join([
            "[device]", "id = gate-03", "site = g11-east", "lane = gate",
            "[paths]", "data_dir = " + os.path.join(data, "data"),
            "journal = " + os.path.join(data, "data", "journal.db"),
            "status_db = " + os.path.join(data, "data", "status.db"),
            "trust_dir = " + os.path.join(data, "trust"), "screen_dir = " + os.path.join(data, "screens"),
            "list_signer = " + os.path.join(pki, "list-signer.crt"),
            "[display]", "backend = sim", "[input]", "backend = sim", "[log]", "level = info",
            "[camera]", "backend = file", "device = " + frames, "fps = 4", "width = 1280", "height = 720",
            "[thermometer]", "backend = none",
            "[policy]", "temperature_required = false", "repeat_window_s = 0",
            "[upstream]", "url = https://localhost:%d" % dev_port, "ca_file = " + os.path.join(pki, "fleet-ca.crt"),
            "cert_file = " + os.path.join(pki, "device-gate-03.crt"),
            "key_file = " + os.path.join(pki, "device-gate-03.key"),
            "trust_dir = " + os.path.join(data, "data", "synced-trust"),
            "heartbeat_interval_s = 5", "list_interval_s = 5", "trust_interval_s = 60", "backoff_cap_s = 2", ""]))
    return conf


def frames_dir(tmp, name, pattern):
    """A folder of frames for the file camera: `pattern` lists image paths in order."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    for i, src in enumerate(pattern):
        os.symlink(src, os.path.join(d, "%04d.png" % i))
    return d


def start_daemon(checkpointd, conf, board, log_path):
    return subprocess.Popen([checkpointd, "--config", conf, "--board", board, "--json"], stdout=subprocess.PIPE,
                            stderr=open(log_path, "w"), text=True, start_new_session=True)


def stop(p):
    if p and p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--checkpointd", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--images", required=True, help="folder for the screenshots")
    args = ap.parse_args()
    browser = bt.browser_paths()
    if not browser:
        return 77
    os.makedirs(args.images, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="travellers-e2e-")
    server = driver = daemon = None
    try:
        pki = os.path.join(tmp, "pki")
        run([os.path.join(args.source, "tools", "test-pki"), pki, "gate-03"])
        db = os.path.join(tmp, "cc.db")
        run([args.upstream, "devices", "--db", db])
        build_city(tmp, args.upstream, pki, db)
        secret = os.path.join(tmp, "id-secret")
        with open(secret, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(secret, 0o600)
        outbox = os.path.join(tmp, "outbox")
        server, dev_port, console_port = bt.start_upstream(
            args.upstream, db, pki, tmp, "2",
            ["--issuer-key", os.path.join(pki, "issuer.key"), "--issuer-cert", os.path.join(pki, "issuer.crt"),
             "--id-secret", secret, "--sms-outbox", outbox, "--public-url", "https://cc.example"])
        base = "https://localhost:%d" % console_port

        driver = bt.start_chrome(browser, tmp)
        c = bt.Console(driver, base)

        # --- the traveller, on a phone, from the entry point's poster URL ---
        c.viewport(390, 844, mobile=True)
        driver.get(base + "/r/?site=g11-east")
        c.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#grid option")) > 2, "the grid choices")
        assert driver.find_element(By.ID, "site").get_attribute("value") == "g11-east", "entry point not preset"
        for field, value in [("name", "王小明"), ("id_number", "11010519491231002X"), ("phone", "13812345678"),
                             ("origin", "哈尔滨市<img src=x onerror=window.__xss=1>"),
                             ("address", "红军街道3号楼<script>window.__xss=2</script>")]:
            driver.find_element(By.ID, field).send_keys(value)
        driver.execute_script("document.getElementById('grid').value = 'xy-s1-g1';")
        c.shot(os.path.join(args.images, "traveller-register-phone.png"))
        driver.find_element(By.ID, "submit").click()
        registered_at = time.time()
        c.wait(EC.visibility_of_element_located((By.ID, "qr-svg")), "the pass QR")
        assert driver.find_element(By.ID, "p-label").text == "王**", "masked name"
        assert "王小明" not in driver.page_source, "the full name on the pass page"
        token = re.search(r"#p=([0-9a-f]{64})$", driver.current_url).group(1)
        c.shot(os.path.join(args.images, "traveller-pass-phone.png"))
        qr_png = os.path.join(tmp, "pass-qr.png")
        driver.find_element(By.ID, "qr").screenshot(qr_png)
        sms = "".join(open(os.path.join(outbox, n)).read() for n in os.listdir(outbox))
        assert "To: 13812345678" in sms and "https://cc.example/r/#p=" + token in sms, "the SMS: " + sms
        # The pass link opens the same pass again.
        driver.get(base + "/r/#p=" + token)
        c.wait(EC.visibility_of_element_located((By.ID, "qr-svg")), "the pass from its link")
        # No ID number in clear in the database or the upstream's log.
        for path in [db, db + "-wal", os.path.join(tmp, "upstream.log")]:
            if os.path.exists(path):
                assert b"11010519491231002X" not in open(path, "rb").read(), "ID number in clear in " + path

        # --- the phone's screen in front of the lane camera ---
        c.viewport(1280, 720)
        frame_html = os.path.join(tmp, "frame.html")
        with open(frame_html, "w") as f:
            f.write("<!doctype html><html><body style='margin:0;background:#5a5f66;width:1280px;height:720px;"
                    "overflow:hidden'><div style='position:absolute;left:470px;top:40px;width:340px;height:640px;"
                    "background:#111;border-radius:36px;transform:rotate(3deg);box-shadow:0 0 30px #000'>"
                    "<div style='position:absolute;left:14px;top:60px;width:312px;height:520px;background:#f2f4f7;"
                    "border-radius:6px'><img src='pass-qr.png' style='width:300px;margin:110px 6px'></div></div>"
                    "</body></html>")
        blank_html = os.path.join(tmp, "blank.html")
        with open(blank_html, "w") as f:
            f.write("<!doctype html><html><body style='margin:0;background:#5a5f66'></body></html>")
        phone_png, blank_png = os.path.join(tmp, "phone-frame.png"), os.path.join(tmp, "blank-frame.png")
        driver.get("file://" + frame_html)
        driver.save_screenshot(phone_png)
        shutil.copy(phone_png, os.path.join(args.images, "traveller-lane-frame.png"))
        driver.get("file://" + blank_html)
        driver.save_screenshot(blank_png)

        # --- the device gets the list with the new pass (a first run over an empty lane) ---
        # The console publishes changed statuses every 2 s: after 5 s the newest version
        # carries the pass (the registration made it green).
        time.sleep(max(0.0, registered_at + 5 - time.time()))
        chief = Api(console_port, pki).login("chief")
        version = wait_for(lambda: chief.call("GET", "/api/bigscreen")[1].get("list_version", 0), "a list")
        board = os.path.join(args.source, "board", "host-sim", "board.conf")
        empty = frames_dir(tmp, "frames-empty", [blank_png] * 240)
        daemon = start_daemon(args.checkpointd, checkpointd_conf(tmp, pki, dev_port, empty), board,
                              os.path.join(tmp, "checkpointd-1.log"))
        wait_for(lambda: re.search(r"status list updated.* to=%d " % version,
                                   open(os.path.join(tmp, "checkpointd-1.log")).read()),
                 "version %d of the status list on the device" % version)
        stop(daemon)

        # --- the traveller at the lane ---
        lane = frames_dir(tmp, "frames-lane", [blank_png] * 4 + [phone_png] * 8 + [blank_png] * 4)
        daemon = start_daemon(args.checkpointd, checkpointd_conf(tmp, pki, dev_port, lane), board,
                              os.path.join(tmp, "checkpointd-2.log"))
        first = wait_for(lambda: daemon.stdout.readline(), "a verdict at the lane")
        verdict = json.loads(first)  # --json: one line per decision, nothing else
        log("lane: " + first.strip())
        assert verdict["verdict"] == "GREEN", "the lane showed " + first

        # --- the arrival in the destination grid's worklist ---
        worker = Api(console_port, pki).login("worker-a")

        def arrival():
            s, w = worker.call("GET", "/api/worklist")
            return [x for x in w.get("worklist", []) if x["kind"] == "arrival"] if s == 200 else []
        items = wait_for(arrival, "the arrival in grid 11's worklist")
        s, tr = worker.call("GET", "/api/travellers")
        me = tr["travellers"][0]
        assert me["status"] == "arrived" and me["arrival_site"] == "g11-east", me
        assert items[0]["pass_id"] == me["pass_id"]
        other = Api(console_port, pki).login("worker-b")
        assert other.call("GET", "/api/travellers")[1]["travellers"] == [], "grid 21 sees grid 11's traveller"
        assert not [x for x in other.call("GET", "/api/worklist")[1]["worklist"] if x["kind"] == "arrival"]
        log("arrival in the worklist: " + json.dumps(items[0], ensure_ascii=False))

        # --- screenshots of the console side ---
        c.viewport(390, 844, mobile=True)
        c.login("worker-a")
        c.go("worklist")
        c.wait(lambda d: "王小明" in d.find_element(By.ID, "worklist").text, "the arrival card with the traveller")
        assert "13812345678" in driver.find_element(By.ID, "worklist").text
        assert driver.execute_script("return window.__xss === undefined && !document.querySelector('#worklist img')"), \
            "markup a traveller typed ran or was inserted"
        c.shot(os.path.join(args.images, "traveller-worklist-phone.png"))
        driver.execute_script("fetch('/api/logout', {method: 'POST', headers: {'X-CSRF-Token': ''}})")
        driver.delete_all_cookies()
        c.viewport(1920, 1080)
        c.login("chief")
        c.go("big")
        c.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#arrivals-chart text"), "arrivals per entry point")
        assert "G11鹤岗东检查站" in driver.find_element(By.ID, "big-arrivals").text
        c.shot(os.path.join(args.images, "traveller-bigscreen.png"))
        c.viewport(900, 1270)
        driver.get(base + "/posters/g11-east")
        c.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, "svg.qr")), "the poster")
        c.shot(os.path.join(args.images, "traveller-poster.png"))
        log("PASS")
        return 0
    except Exception as e:  # every failure with the logs: assertions, timeouts, a part that did not start
        log("FAIL: %s: %s" % (type(e).__name__, e))
        for name in ["upstream.log", "checkpointd-1.log", "checkpointd-2.log"]:
            p = os.path.join(tmp, name)
            if os.path.exists(p):
                log("--- %s (tail)\n%s" % (name, open(p, errors="replace").read()[-3000:]))
        return 1
    finally:
        if driver:
            driver.quit()
        stop(daemon)
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
