#!/usr/bin/python3
"""The residents' side in a real browser (Debian's chromium + chromium-driver, python3-selenium).

Starts the real `upstream serve` with its console and the resident registry (ID secret,
TEST-ONLY pass issuer, outbox text messages); as a grid worker on a desktop screen:
imports residents from CSV, issues the grid's passes and reads the one-time links; as a
resident on a phone: opens the pass page, sees the QR and the green status, keeps
seeing it offline (service worker), and sends an abnormal self-check that lands in the
grid's worklist. Screenshots go to --images.

Exit 0 pass, 1 fail, 77 skip (no chromium, chromedriver or selenium).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser_test as bt  # noqa: E402  (exits 77 without selenium)
from browser_test import By, EC  # noqa: E402

CSV = """name,id_number,phone,address,grid
张三丰,11010519491231002X,13812345678,红军街1号楼2单元301,ga
欧阳娜娜,440524188001010014,13900001111,红军街1号楼2单元302,ga
李四,110101199003074477,13700002222,红军街3号楼1单元101,ga
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--images", required=True)
    args = ap.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.path.exists(chromium) or not os.path.exists(chromedriver):
        print("SKIP: chromium or chromium-driver is not installed (tools/dev deps)")
        return 77
    os.makedirs(args.images, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="residents-browser-")
    server = driver = None
    try:
        pki = os.path.join(tmp, "pki")
        bt.run([os.path.join(args.source, "tools", "test-pki"), pki, "gate-01"])
        db = os.path.join(tmp, "cc.db")
        bt.run([args.upstream, "devices", "--db", db])
        with open(os.path.join(tmp, "areas.csv"), "w") as f:
            f.write("hg,,鹤岗市,Hegang\nd1,hg,向阳区,Xiangyang\ns1,d1,红军街道,Hongjun\nga,s1,红军1号网格,Grid 1\n")
        bt.run([args.upstream, "areas", "import", "--db", db, "--csv", os.path.join(tmp, "areas.csv")])
        r = subprocess.run([args.upstream, "operator", "add", "--db", db, "--username", "worker-a", "--role", "grid",
                            "--area", "ga"], input=bt.PASSWORD + "\n", capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("operator add: " + r.stderr)
        secret = os.path.join(tmp, "id-secret")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32))
        os.close(fd)
        server = subprocess.Popen(
            [args.upstream, "serve", "--db", db, "--cert", os.path.join(pki, "server.crt"),
             "--key", os.path.join(pki, "server.key"), "--client-ca", os.path.join(pki, "fleet-ca.crt"),
             "--port", "0", "--console-port", "0", "--id-secret", secret,
             "--issuer-key", os.path.join(pki, "issuer.key"), "--issuer-cert", os.path.join(pki, "issuer.crt"),
             "--sms-outbox", os.path.join(tmp, "outbox")],
            stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "upstream.log"), "w"), text=True,
            start_new_session=True)
        line = server.stdout.readline()
        m = re.search(r"console https://[^:]+:(\d+)/", line)
        if not m:
            raise RuntimeError("upstream did not start: " + line)
        base = "https://localhost:%d" % int(m.group(1))

        driver = bt.chrome(chromium, chromedriver, tmp, "1280,900")
        c = bt.Console(driver, base)

        # --- the grid worker: import, issue, links ---
        c.viewport(1280, 900)
        c.login("worker-a")
        c.go("residents")
        c.wait(EC.visibility_of_element_located((By.ID, "res-csv")), "the import form")
        driver.execute_script("document.getElementById('res-csv').value = arguments[0];", CSV)
        c.click("#res-import", "the import button")
        c.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#residents tbody tr")) == 3, "three residents")
        assert "张三丰" in c.css("#residents").text, "the grid worker sees full names"
        c.click("#res-issue-all", "issue passes for the grid")
        c.wait(EC.visibility_of_element_located((By.ID, "res-links")), "the one-time pass links")
        links = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#res-links p")]
        assert len(links) == 3, links
        c.wait(lambda d: "GREEN" in d.find_element(By.ID, "residents").text, "green passes in the list")
        c.shot(os.path.join(args.images, "residents-console.png"))

        # --- the resident on a phone: the pass page, offline, the self-check ---
        link = links[0]
        c.viewport(390, 844, mobile=True)
        driver.get(base + link[link.index("/p/"):])
        c.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, "svg.qr")), "the pass QR")
        assert driver.execute_script("return document.body.className") == "green"
        assert "三" not in c.css("#label").text, "the page shows the masked name only"
        c.wait(lambda d: d.execute_script("return !!navigator.serviceWorker.controller") or
               (d.refresh() or False), "the service worker in control")
        c.shot(os.path.join(args.images, "pass-page-phone.png"))
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                               {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        driver.refresh()
        c.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, "svg.qr")), "the pass QR while offline")
        driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                               {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        driver.refresh()
        c.wait(EC.visibility_of_element_located((By.ID, "check")), "the self-check form")
        c.click("#check input[name=fever]", "fever")
        driver.execute_script("document.querySelector('#check input[name=temperature_c]').value = '38.3';")
        c.click("#check button[type=submit]", "submit the self-check")
        c.wait(lambda d: "visit" in d.find_element(By.ID, "check-result").text, "the self-check answer")
        c.shot(os.path.join(args.images, "pass-page-self-check.png"))

        # --- a new resident on a phone: self-registration, the grid from the address ---
        driver.get(base + "/register")
        c.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#enrol select[name=grid] option")) > 1, "the grid list")
        for k, v in {"name": "孙七", "id_number": "110101199001010015", "phone": "13655550001",
                     "address": "红军街１号楼 2单元 502室"}.items():
            driver.execute_script("document.querySelector('#enrol [name=' + arguments[0] + ']').value = arguments[1];",
                                  k, v)
        c.click("#enrol-code", "send the self-registration code")
        c.wait(lambda d: "红军1号网格" in d.find_element(By.ID, "enrol-result").text, "the grid found from the address")
        assert driver.execute_script("return document.querySelector('#enrol select[name=grid]').value") == "ga"
        driver.execute_script("document.getElementById('enrol-result').scrollIntoView({block: 'end'});")
        c.shot(os.path.join(args.images, "register-grid-from-address.png"))

        # --- back in the console: the self-report in the grid's worklist ---
        c.viewport(1280, 900)
        driver.get(base + "/")
        c.wait(EC.visibility_of_element_located((By.ID, "who")), "the console")
        c.go("worklist")
        c.wait(lambda d: "self-report" in d.find_element(By.ID, "worklist").text, "the self-report item")
        log_text = open(os.path.join(tmp, "upstream.log")).read()
        for n in ["11010519491231002X", "440524188001010014", "110101199003074477"]:
            assert n not in log_text, "an ID number in the log"
        print("PASS")
        return 0
    except Exception as e:  # noqa: BLE001
        return bt.report_failure(e, driver, os.path.join(args.images, "residents-failure.png"), tmp)
    finally:
        bt.clean_up(driver, server, tmp)


if __name__ == "__main__":
    sys.exit(main())
