#!/usr/bin/python3
"""The console driven in a real browser (Debian's chromium + chromium-driver, python3-selenium).

Starts the real `upstream serve` with its console on loopback, a TEST-ONLY PKI from
tools/test-pki, a small city with residents, sites, devices and uploaded scans; then, as
a grid worker on a phone-sized screen: logs in, sets a resident red, sees the change in
the audit log and on the map, fails to reach another grid's resident, and logs out. As
the city: the desktop console and the 1920x1080 big screen. Screenshots go to --images.

Exit 0 pass, 1 fail, 77 skip (no chromium, chromedriver or selenium).
"""
import argparse
import datetime
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

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("SKIP: python3-selenium is not installed (tools/dev deps)")
    sys.exit(77)

WAIT_S = 90          # generous: the CI machine also runs ASan and QEMU
PASSWORD = "console test passphrase"
DISTRICTS = [("xy", "向阳区", "Xiangyang"), ("gn", "工农区", "Gongnong"), ("nan", "南山区", "Nanshan")]


def log(msg):
    print(msg, flush=True)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s %s" % (cmd[:3], r.stdout, r.stderr))
    return r.stdout


def pass_id(n):
    return "%032x" % (0x5eed0000000000000000000000000000 + n * 7919)


def add_operators(upstream, db, ops):
    """Accounts (user, role, area) through the host CLI, each with PASSWORD."""
    for user, role, area in ops:
        r = subprocess.run([upstream, "operator", "add", "--db", db, "--username", user, "--role", role,
                            "--area", area], input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("operator add: " + r.stderr)


def build_city(tmp, upstream, pki, db):
    """Areas, operators, passes, sites and devices through the host CLI."""
    rows = ["code,parent,name_zh,name_en", "hg,,鹤岗市,Hegang"]
    grids = []
    for d, zh, en in DISTRICTS:
        rows.append("%s,hg,%s,%s" % (d, zh, en))
        for s in range(1, 3):
            street = "%s-s%d" % (d, s)
            rows.append("%s,%s,%s第%d街道,Street %d" % (street, d, zh[:2], s, s))
            for g in range(1, 4 if d != "nan" else 3):
                grid = "%s-g%d" % (street, g)
                rows.append("%s,%s,%d号网格,Grid %d" % (grid, street, s * 10 + g, g))
                grids.append(grid)
    # A grid whose name an operator typed as markup: it must show as text.
    rows.append("xy-s1-gx,xy-s1,<img src=x onerror=window.__xss=1>,<script>window.__xss=2</script>")
    grids.append("xy-s1-gx")
    with open(os.path.join(tmp, "areas.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    run([upstream, "areas", "import", "--db", db, "--csv", os.path.join(tmp, "areas.csv")])
    add_operators(upstream, db, [("chief", "city", "hg"), ("worker-a", "grid", "xy-s1-g1"),
                                 ("worker-b", "grid", "gn-s1-g1")])
    surnames = "张王李赵刘陈杨黄周吴"
    lines = ["pass_id,grid,label"]
    n = 0
    for gi, grid in enumerate(grids):
        for k in range(3 + (gi * 5) % 7):
            n += 1
            lines.append("%s,%s,%s*" % (pass_id(n), grid, surnames[n % len(surnames)]))
    with open(os.path.join(tmp, "passes.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    run([upstream, "passes", "import", "--db", db, "--csv", os.path.join(tmp, "passes.csv")])
    sites = [("site-a", "xy-s1-g1", "A小区东门", "gate"), ("site-b", "gn-s1-g1", "工农超市", "shop"),
             ("site-c", "nan-s1", "南山公路卡口", "road-entry"),
             ("site-x", "xy-s1-gx", "<svg onload=window.__xss=4>", "gate")]
    for code, area, name, kind in sites:
        run([upstream, "site", "add", "--db", db, "--code", code, "--area", area, "--name", name, "--kind", kind])
    for dev, site in [("gate-01", "site-a"), ("gate-02", "site-b"), ("gate-03", "site-c"), ("gate-04", "site-x")]:
        run([upstream, "enroll", "--db", db, "--cert", os.path.join(pki, "device-%s.crt" % dev)])
        run([upstream, "site", "assign", "--db", db, "--device", dev, "--site", site])
    # The grid worker's resident is pass 1 (grid xy-s1-g1); grid B's is the first of gn-s1-g1.
    grid_of = {l.split(",")[0]: l.split(",")[1] for l in lines[1:]}
    first_b = next(p for p, g in grid_of.items() if g == "gn-s1-g1")
    return grid_of, pass_id(1), first_b


def device_post(port, pki, dev, path, body):
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "fleet-ca.crt"))
    ctx.load_cert_chain(os.path.join(pki, "device-%s.crt" % dev), os.path.join(pki, "device-%s.key" % dev))
    c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError("%s %s: %d %s" % (dev, path, r.status, data[:200]))


def upload_scans(port, pki, grid_of):
    now = int(time.time())
    passes = sorted(grid_of)
    for di, dev in enumerate(["gate-01", "gate-02", "gate-03"]):
        scans = []
        for i in range(90):
            p = passes[(i * 7 + di * 13) % len(passes)]
            t = now - (i * 3.7 + di) * 3600 / 3.0 if i < 60 else now - (i - 58) * 86400 * 0.45
            verdict, reason, temp = "green", "ok", 36.5
            if i % 17 == 3:
                verdict, reason = "red", "status-red"
            elif i % 11 == 5:
                verdict, reason, temp = "yellow", "fever", 38.2
            scans.append({"seq": i + 1, "scan_id": "%s-%d" % (dev, i), "pass_id": p, "verdict": verdict,
                          "reason": reason, "temperature_c": temp, "time": int(t), "lane": "in-1"})
        device_post(port, pki, dev, "/v1/scans", {"scans": scans})
        device_post(port, pki, dev, "/v1/heartbeat", {"firmware": "1.4.0", "list_version": 0, "backlog": di * 40,
                                                      "wall_time_ms": int(time.time() * 1000)})


class Console:
    def __init__(self, driver, base):
        self.d = driver
        self.base = base

    def wait(self, cond, what):
        try:
            # The page re-renders its lists every few seconds: a found element can go stale.
            return WebDriverWait(self.d, WAIT_S, poll_frequency=0.2,
                                 ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(cond)
        except Exception as e:
            raise AssertionError("waiting for %s: %s: %s" % (what, type(e).__name__, str(e)[:300])) from e

    def viewport(self, w, h, mobile=False):
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile})

    def css(self, sel):
        return self.d.find_element(By.CSS_SELECTOR, sel)

    def click(self, sel, what):
        """Clicks the element, looking it up again when a refresh replaced it."""
        def attempt(d):
            try:
                el = d.find_element(By.CSS_SELECTOR, sel)
                if not el.is_displayed() or not el.is_enabled():
                    return False
                el.click()
                return True
            except (NoSuchElementException, StaleElementReferenceException):
                return False
        self.wait(attempt, what)

    def login(self, user):
        self.d.get(self.base + "/")
        self.wait(EC.visibility_of_element_located((By.ID, "login-user")), "the login form")
        self.css("#login-user").send_keys(user)
        self.css("#login-pass").send_keys(PASSWORD)
        self.css("#login-submit").click()
        self.wait(EC.visibility_of_element_located((By.ID, "who")), "the console after login")
        self.wait(lambda d: user in d.find_element(By.ID, "who").text, "the operator's name")

    def go(self, view):
        self.d.execute_script("document.body.dataset.loaded = ''; location.hash = '#/' + arguments[0];", view)
        self.wait(lambda d: d.execute_script("return document.body.dataset.view") == view, "view " + view)

    def fetch_status(self, method, path):
        return self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: arguments[1], credentials: 'same-origin',"
            " headers: {'Content-Type': 'application/json'}, body: arguments[1] === 'GET' ? undefined : '{}'})"
            ".then(r => done(r.status)).catch(e => done(-1));", path, method)

    def no_injected_markup(self):
        xss = self.d.execute_script("return window.__xss === undefined && document.querySelectorAll('img, b').length === 0"
                                    " && document.querySelectorAll('script:not([src])').length === 0"
                                    " && document.querySelectorAll('svg[onload], [onerror]').length === 0")
        assert xss, "markup from an area name ran or was inserted"

    def shot(self, path):
        self.d.save_screenshot(path)
        log("screenshot " + path)


def report_failure(e, driver, screenshot, tmp):
    """Logs the failure, a screenshot of the page and the end of the upstream's log; 1."""
    log("FAIL: %s" % e)
    if driver:
        try:
            driver.save_screenshot(screenshot)
        except Exception:
            pass
    try:
        with open(os.path.join(tmp, "upstream.log")) as f:
            log(f.read()[-3000:])
    except OSError:
        pass
    return 1


def clean_up(driver, server, tmp):
    """Quits the browser, stops the upstream (its process group) and removes `tmp`."""
    if driver:
        try:
            driver.quit()
        except Exception:
            pass
    if server:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def chrome(chromium, chromedriver, tmp, window):
    """Headless chromium with its own profile in `tmp`, the window `window` ("W,H")."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
              "--ignore-certificate-errors", "--lang=zh-CN", "--window-size=" + window,
              "--user-data-dir=" + os.path.join(tmp, "profile")]:
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(chromedriver, log_path=os.path.join(tmp, "chromedriver.log")),
                              options=opts)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    return driver


def browser_paths():
    """(chromium, chromedriver), or None after printing why the test skips."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.path.exists(chromium) or not os.path.exists(chromedriver):
        print("SKIP: chromium or chromium-driver is not installed (tools/dev deps)")
        return None
    return chromium, chromedriver


def start_chrome(browser, tmp):
    """chrome() for a (chromium, chromedriver) pair, at wall-screen size."""
    return chrome(browser[0], browser[1], tmp, "1920,1080")


def start_upstream(upstream, db, pki, tmp, publish_interval_s, extra=()):
    """`upstream serve` with its console on any free ports: (process, device port, console port)."""
    server = subprocess.Popen(
        [upstream, "serve", "--db", db, "--cert", os.path.join(pki, "server.crt"),
         "--key", os.path.join(pki, "server.key"), "--client-ca", os.path.join(pki, "fleet-ca.crt"),
         "--port", "0", "--console-port", "0", "--signing-key", os.path.join(pki, "list-signer.key"),
         "--signing-cert", os.path.join(pki, "list-signer.crt"), "--publish-interval-s", publish_interval_s]
        + list(extra),
        stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "upstream.log"), "w"), text=True,
        start_new_session=True)
    line = server.stdout.readline()
    m = re.search(r"listening https://[^:]+:(\d+).*console https://[^:]+:(\d+)/", line)
    if not m:
        raise RuntimeError("upstream did not start: " + line + open(os.path.join(tmp, "upstream.log")).read())
    return server, int(m.group(1)), int(m.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--images", required=True, help="folder for the screenshots")
    args = ap.parse_args()
    browser = browser_paths()
    if not browser:
        return 77
    os.makedirs(args.images, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="console-browser-")
    server = driver = None
    try:
        pki = os.path.join(tmp, "pki")
        run([os.path.join(args.source, "tools", "test-pki"), pki, "gate-01", "gate-02", "gate-03", "gate-04"])
        db = os.path.join(tmp, "cc.db")
        run([args.upstream, "devices", "--db", db])  # creates the upstream schema
        grid_of, pass_a, pass_b = build_city(tmp, args.upstream, pki, db)
        server = subprocess.Popen(
            [args.upstream, "serve", "--db", db, "--cert", os.path.join(pki, "server.crt"),
             "--key", os.path.join(pki, "server.key"), "--client-ca", os.path.join(pki, "fleet-ca.crt"),
             "--port", "0", "--console-port", "0", "--web-port", "0", "--signing-key", os.path.join(pki, "list-signer.key"),
             "--signing-cert", os.path.join(pki, "list-signer.crt"), "--publish-interval-s", "5"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "upstream.log"), "w"), text=True,
            start_new_session=True)
        line = server.stdout.readline()
        m = re.search(r"listening https://[^:]+:(\d+).*console https://[^:]+:(\d+)/.*big screen (http://\S+/)", line)
        if not m:
            raise RuntimeError("upstream did not start: " + line)
        dev_port, console_port, wall_url = int(m.group(1)), int(m.group(2)), m.group(3)
        upload_scans(dev_port, pki, grid_of)
        # A device writes sensor names and states: markup there must stay text too.
        device_post(dev_port, pki, "gate-04", "/v1/heartbeat",
                    {"firmware": "1.3.2", "list_version": 0, "backlog": 0, "wall_time_ms": int(time.time() * 1000),
                     "sensors": {"camera": "ok", "<img src=x onerror=window.__xss=5>": "<b>fault</b>"}})

        driver = start_chrome(browser, tmp)
        c = Console(driver, "https://localhost:%d" % console_port)

        # --- a grid worker on a phone ---
        c.viewport(390, 844, mobile=True)
        c.login("worker-a")
        c.go("statuses")
        row = "#passes tr[data-pass='%s']" % pass_a
        c.click(row, "grid A's resident in the list")
        assert not driver.find_elements(By.CSS_SELECTOR, "#passes tr[data-pass='%s']" % pass_b), "grid B listed"
        c.wait(EC.visibility_of_element_located((By.ID, "status-form")), "the status form")
        c.click("#status-form input[value=red]", "the red choice")
        driver.execute_script("document.getElementById('sf-reason').value = 'home-isolation';")
        until = (datetime.date.today() + datetime.timedelta(days=14)).isoformat()
        driver.execute_script("document.getElementById('sf-until').value = arguments[0];", until)
        c.click("#sf-save", "save")
        c.wait(lambda d: d.find_element(By.CSS_SELECTOR, row + " .badge").get_attribute("class") == "badge red",
               "the resident shown red")
        c.shot(os.path.join(args.images, "console-phone.png"))
        # The audit log shows who changed what.
        c.go("audit")
        c.wait(lambda d: any("green → red" in r.text for r in
                             d.find_elements(By.CSS_SELECTOR, "#audit tr[data-object='%s']" % pass_a)),
               "the change in the audit log")
        # The grid's worklist: gate alerts of its residents.
        c.go("worklist")
        c.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#worklist .card.work") or
               "nothing to do" in d.find_element(By.ID, "worklist").text, "the grid's worklist")
        c.shot(os.path.join(args.images, "console-worklist-phone.png"))
        # The map shows one red in the worker's grid.
        c.go("map")
        c.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "#map g[data-code='xy-s1-g1'][data-red='1']")),
               "the red on the map")
        # Another grid's resident: not there, and not changeable.
        assert c.fetch_status("GET", "/api/passes/" + pass_b) == 404
        assert c.fetch_status("GET", "/api/devices/gate-02") == 404
        assert c.fetch_status("POST", "/api/passes/%s/status" % pass_b) == 403  # no CSRF token: refused first
        # Log out: the session is gone.
        c.click("#btn-logout", "log out")
        c.wait(EC.visibility_of_element_located((By.ID, "login-user")), "the login form after logout")
        assert c.fetch_status("GET", "/api/me") == 401

        # --- the city on a desktop ---
        c.viewport(1440, 900)
        c.login("chief")
        c.go("statuses")
        c.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#passes tbody tr")) > 20, "the city's residents")
        c.no_injected_markup()
        driver.execute_script("const s = document.getElementById('grid-filter'); s.value = 'xy-s1-g1';"
                              "s.dispatchEvent(new Event('change'));")
        c.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#passes tbody tr")) < 20, "grid A's residents")
        c.click(row, "grid A's red resident")
        c.wait(EC.visibility_of_element_located((By.ID, "status-form")), "the status form")
        c.shot(os.path.join(args.images, "console-desktop.png"))
        c.click("#sf-cancel", "cancel")
        c.go("audit")
        c.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#audit tbody tr")) > 3, "the city's audit log")
        c.shot(os.path.join(args.images, "console-audit.png"))
        c.go("worklist")
        c.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#worklist .card.work"), "the worklist")
        c.go("fleet")
        c.wait(lambda d: "gate-04" in d.find_element(By.ID, "fleet").text, "the fleet")
        c.wait(lambda d: "onerror=window.__xss=5" in d.find_element(By.ID, "fleet").text, "the device's text as text")
        c.no_injected_markup()
        c.shot(os.path.join(args.images, "console-fleet.png"))
        c.go("map")
        c.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "#map g[data-code='xy-s1-gx']")), "the map")
        c.no_injected_markup()

        # --- the big screen on a wall ---
        c.viewport(1920, 1080)
        c.go("big")
        c.wait(lambda d: d.execute_script("return document.body.dataset.loaded") == "1", "the big screen")
        c.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "#big-map g[data-code='xy-s1-g1'][data-red='1']")),
               "the red on the big screen")
        c.no_injected_markup()
        c.shot(os.path.join(args.images, "console-bigscreen.png"))

        # --- the same big screen on loopback without a login (upstream serve --web-port) ---
        driver.get(wall_url)
        c.wait(lambda d: d.execute_script("return document.body.dataset.loaded") == "1", "the loopback big screen")
        c.wait(EC.presence_of_element_located((By.CSS_SELECTOR, "#big-map g[data-code='xy-s1-g1'][data-red='1']")),
               "the red on the loopback big screen")
        if driver.find_element(By.ID, "app-view").is_displayed() or driver.find_element(By.ID, "big-exit").is_displayed():
            raise RuntimeError("the loopback big screen shows the console's navigation")
        c.no_injected_markup()
        log("browser test passed")
        return 0
    except Exception as e:
        return report_failure(e, driver, os.path.join(args.images, "console-failure.png"), tmp)
    finally:
        clean_up(driver, server, tmp)


if __name__ == "__main__":
    sys.exit(main())
