"""The web console in a real browser: Debian's headless Chromium driven through chromedriver (selenium). Sign in with a
password and MFA, switch into another account's role that requires MFA, revoke a role's sessions and watch an old
session's next call fail, enrol an MFA device from the secret read from its QR code (zbarimg), run simulations, filter
the audit trail; and the refusals: wrong password, wrong MFA code, a POST without its CSRF token, a page the user may
not see. Screenshots of every step go to a folder printed at the start (STSD_CONSOLE_SHOTS to choose it)."""

import base64
import itertools
import hashlib
import hmac
import json
import os
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT_ID, error_code, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ZBARIMG = "/usr/bin/zbarimg"
PASSWORD = "Console-Pass-1"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


SHOT_NUMBERS = itertools.count(1)


def totp(seed_b32, step):
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def step_now():
    return int(time.time()) // 30


@pytest.fixture(scope="module")
def shots():
    d = os.environ.get("STSD_CONSOLE_SHOTS") or tempfile.mkdtemp(prefix="stsd-console-shots-")
    os.makedirs(d, exist_ok=True)
    print(f"\nconsole screenshots: {d}")
    return d


@pytest.fixture(scope="module")
def world():
    """A server with two accounts: users in the main one, an MFA-protected admin role and an app role in `prod`."""
    s = make_server()
    iam = s.client("iam")
    prod = s.create_account("prod")
    prod_iam = s.client("iam", key=prod["AccessKeyId"], secret=prod["SecretAccessKey"])
    prod_id = prod["AccountId"]
    prod_iam.create_role(RoleName="Admin", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}))
    prod_iam.put_role_policy(RoleName="Admin", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    prod_iam.create_role(RoleName="App", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{prod_id}:root"}, "Action": "sts:AssumeRole"}]}))
    prod_iam.put_role_policy(RoleName="App", PolicyName="list", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]}))
    prod_iam.create_user(UserName="deployer")
    prod_iam.put_user_policy(UserName="deployer", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    deployer = prod_iam.create_access_key(UserName="deployer")["AccessKey"]
    # alice: everything, a password and an MFA device (enabled with the codes of the two previous steps, so the
    # current and next steps are still unused for sign-in and switch role).
    for name in ("alice", "carol", "dave"):
        iam.create_user(UserName=name)
        iam.create_login_profile(UserName=name, Password=PASSWORD)
    for name in ("alice", "dave"):
        iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    # carol may switch roles and look at users, but not list roles.
    iam.put_user_policy(UserName="carol", PolicyName="some", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "iam:ListUsers"], "Resource": "*"}]}))
    d = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]
    seed = d["Base32StringSeed"].decode()
    n = step_now()
    iam.enable_mfa_device(UserName="alice", SerialNumber=d["SerialNumber"],
                          AuthenticationCode1=totp(seed, n - 2), AuthenticationCode2=totp(seed, n - 1))
    yield {"server": s, "iam": iam, "prod": prod, "deployer": deployer, "prod_iam": prod_iam, "alice_seed": seed, "step": n}
    s.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER) and os.path.exists(ZBARIMG), \
        "Debian's chromium, chromium-driver and zbar-tools are needed (scripts/test.sh installs them)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        opts.add_argument(a)
    # The driver path is given: selenium never tries to download one.
    d = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    d.implicitly_wait(2)
    yield d
    d.quit()


def gone(element):
    """Whether `element` belongs to a page that was replaced. Chromium answers a stale element either with
    StaleElementReferenceException or with "Node with given id does not belong to the document"."""
    from selenium.common.exceptions import WebDriverException
    try:
        element.is_enabled()
        return False
    except WebDriverException:
        return True


class Console:
    def __init__(self, driver, server, shots):
        self.d = driver
        self.base = server.endpoint + "/console"
        self.shots = shots
        self.n = 0

    def go(self, path=""):
        self.d.get(self.base + path)  # returns once the page has loaded

    def el(self, css):
        from selenium.common.exceptions import NoSuchElementException
        from selenium.webdriver.common.by import By
        try:
            return self.d.find_element(By.CSS_SELECTOR, css)
        except NoSuchElementException:
            # Keep what the browser showed, for the person reading the failure.
            self.shot("missing-" + "".join(ch for ch in css if ch.isalnum()))
            with open(os.path.join(self.shots, f"{self.n:02d}-page.html"), "w") as f:
                f.write(self.d.page_source)
            raise

    def els(self, css):
        from selenium.webdriver.common.by import By
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def click(self, css):
        """Click something that loads a new page, and wait until the new page has replaced the old one."""
        from selenium.webdriver.support.ui import WebDriverWait
        old = self.el("html")
        self.el(css).click()
        wait = WebDriverWait(self.d, 15)
        wait.until(lambda d: gone(old))
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def text_of(self, css):
        return self.el(css).text

    def type(self, css, text):
        e = self.el(css)
        e.clear()
        e.send_keys(text)

    def shot(self, name):
        self.n = next(SHOT_NUMBERS)
        path = os.path.join(self.shots, f"{self.n:02d}-{name}.png")
        self.d.save_screenshot(path)
        return path

    def sign_in(self, account, user, password):
        self.d.delete_all_cookies()
        self.go()
        self.type("#account", account)
        self.type("#username", user)
        self.type("#password", password)
        self.click("#signin")
        # Wait for the answer page (the identity bar, the MFA step or an error) before going anywhere else.
        self.el("#identity, #mfa-form, #signin-error, #message")

    def sign_out(self):
        self.click("#signout")
        self.el("#signin-form")

    def session_cookie(self):
        c = self.d.get_cookie("stsd_console")
        return c and c["value"]


def post(url, fields, cookie=None):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def test_headers_cookies_and_csrf(world, browser, shots):
    s = world["server"]
    c = Console(browser, s, shots)
    with urllib.request.urlopen(s.endpoint + "/console", timeout=10) as r:
        h = r.headers
        assert "default-src 'self'" in h["Content-Security-Policy"] and "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert "unsafe-inline" not in h["Content-Security-Policy"]
        assert h["X-Frame-Options"] == "DENY"
        assert "HttpOnly" in h["Set-Cookie"] and "SameSite=Strict" in h["Set-Cookie"]
    # Sign-in without the double-submitted token is refused.
    code, body, _ = post(s.endpoint + "/console/signin", {"account": ACCOUNT_ID, "username": "carol", "password": PASSWORD})
    assert code == 403 and "CSRF" in body
    c.sign_in(ACCOUNT_ID, "carol", PASSWORD)
    assert "carol" in c.el("#identity-arn").text
    sid = c.session_cookie()
    assert sid
    # A state change without the CSRF token, with a valid session cookie: refused, nothing created.
    code, body, _ = post(s.endpoint + "/console/keys/create", {}, cookie=f"stsd_console={sid}")
    assert code == 403 and "CSRF" in body
    code, body, _ = post(s.endpoint + "/console/keys/create", {"csrf": "wrong"}, cookie=f"stsd_console={sid}")
    assert code == 403
    assert world["iam"].list_access_keys(UserName="carol")["AccessKeyMetadata"] == []
    # Sign-out forgets the session: the old cookie opens nothing.
    c.sign_out()
    assert c.els("#signin-form")
    code, body, _ = post(s.endpoint + "/console/keys/create", {"csrf": "x"}, cookie=f"stsd_console={sid}")
    assert code == 403 and "session has ended" in body


def test_wrong_password_and_access_denied_page(world, browser, shots):
    s = world["server"]
    c = Console(browser, s, shots)
    c.sign_in(ACCOUNT_ID, "carol", "Not-the-password-1")
    assert "incorrect" in c.el("#signin-error").text
    c.shot("wrong-password")
    c.sign_in(ACCOUNT_ID, "carol", PASSWORD)
    c.go("/roles")
    denied = c.el("#access-denied").text
    assert "Access denied" in denied and "iam:ListRoles" in denied
    c.shot("roles-access-denied")
    c.go("/users")
    assert c.els("#users")
    c.sign_out()
    # PasswordLastUsed is set by the console sign-in.
    assert "PasswordLastUsed" in world["iam"].get_user(UserName="carol")["User"]


def test_sign_in_with_mfa_switch_role_and_revoke_sessions(world, browser, shots):
    s, seed, n = world["server"], world["alice_seed"], world["step"]
    prod, prod_iam = world["prod"], world["prod_iam"]
    c = Console(browser, s, shots)
    c.sign_in(ACCOUNT_ID, "alice", PASSWORD)
    c.shot("mfa-prompt")
    c.type("#mfa-code", "000000" if totp(seed, n) != "000000" else "111111")
    c.click("#mfa-submit")
    assert "not valid" in c.el("#signin-error").text
    c.shot("wrong-mfa-code")
    c.type("#mfa-code", totp(seed, n))
    c.click("#mfa-submit")
    assert c.el("#caller-arn").text == f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
    assert c.el("#session-expiry").get_attribute("data-expires")
    c.shot("signed-in")

    # Switch into prod's Admin role (its trust policy requires MFA), with a display name and colour.
    c.go("/switch")
    c.type("#switch-account", prod["AccountId"])
    c.type("#switch-role", "Admin")
    c.type("#switch-display", "Prod admin")
    from selenium.webdriver.support.ui import Select
    Select(c.el("#switch-color")).select_by_value("red")
    c.type("#switch-mfa", totp(seed, n + 1))
    c.shot("switch-role-form")
    c.click("#switch-submit")
    assert c.el("#role-display").text == "Prod admin"
    assert "role-red" in c.el("#role-display").get_attribute("class")
    arn = f"arn:aws:sts::{prod['AccountId']}:assumed-role/Admin/alice"
    assert c.el("#identity-arn").text == arn and c.el("#caller-arn").text == arn
    assert "Prod admin" in c.el("#recent-roles").text
    c.shot("switched-role")

    # An old session of prod's App role, then Revoke active sessions on the App role page.
    deployer = world["deployer"]
    prod_sts = s.client("sts", key=deployer["AccessKeyId"], secret=deployer["SecretAccessKey"])
    creds = prod_sts.assume_role(RoleArn=f"arn:aws:iam::{prod['AccountId']}:role/App", RoleSessionName="old")["Credentials"]
    old = s.client("iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"])
    old.list_users()
    c.go("/roles")
    assert "App" in c.el("#roles").text
    c.go("/roles/App")
    assert '"sts:AssumeRole"' in c.el("#trust-policy").text
    assert "3600" in c.el("#max-session").text
    c.shot("role-page")
    c.click("#revoke-sessions")
    c.shot("revoke-confirm")
    time.sleep(1.1)  # aws:TokenIssueTime has second resolution
    c.el("#revoke-confirm").click()
    c.click("#revoke-submit")
    assert "revoked" in c.el("#revoked").text
    c.shot("revoked")
    with pytest.raises(ClientError) as e:
        old.list_users()
    assert error_code(e) == "AccessDenied"
    doc = prod_iam.get_role_policy(RoleName="App", PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]
    assert doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]

    # Back to the user; without MFA in the session carol cannot switch into Admin: a message, not a crash.
    c.click("#back-to-user")
    assert c.el("#identity-arn").text == f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
    c.sign_out()
    c.sign_in(ACCOUNT_ID, "carol", PASSWORD)
    c.go("/switch")
    c.type("#switch-account", prod["AccountId"])
    c.type("#switch-role", "Admin")
    c.click("#switch-submit")
    assert "AccessDenied" in c.el("#switch-error").text
    c.shot("switch-denied-without-mfa")
    c.sign_out()


def test_mfa_enrolment_simulation_and_audit(world, browser, shots):
    s, iam = world["server"], world["iam"]
    c = Console(browser, s, shots)
    c.sign_in(ACCOUNT_ID, "dave", PASSWORD)
    c.go("/mfa")
    assert c.els("#no-mfa")
    c.type("#mfa-name", "dave-phone")
    c.click("#mfa-create")
    src = c.el("#mfa-qr").get_attribute("src")
    assert src.startswith("data:image/png;base64,")
    # Read the QR code as an authenticator app would (zbarimg, Debian's zbar-tools): an otpauth:// URI.
    qr = os.path.join(shots, "mfa-qr-code.png")
    with open(qr, "wb") as f:
        f.write(base64.b64decode(src.split(",", 1)[1]))
    uri = subprocess.run([ZBARIMG, "--raw", "-q", qr], capture_output=True, text=True, check=True).stdout.strip()
    parsed = urllib.parse.urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp" and "dave-phone" in parsed.path
    secret = urllib.parse.parse_qs(parsed.query)["secret"][0]
    # The same secret is behind "Show secret key".
    c.el("details summary").click()
    assert c.el("#mfa-secret").text.strip() == secret
    c.shot("mfa-qr")
    n = step_now()
    c.type("#mfa-code1", totp(secret, n - 1))
    c.type("#mfa-code2", totp(secret, n))
    c.click("#mfa-enable")
    assert "enabled" in c.el("#mfa-enabled").text
    c.shot("mfa-enabled")
    devices = iam.list_mfa_devices(UserName="dave")["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [f"arn:aws:iam::{ACCOUNT_ID}:mfa/dave-phone"]

    # Access keys of oneself: the secret is shown once.
    c.go("/keys")
    c.click("#create-key")
    key_id = c.el("#new-key-id").text
    assert len(c.el("#new-key-secret").text) == 40
    c.go("/keys")
    assert not c.els("#new-key-secret") and key_id in c.el("#access-keys").text

    # The simulator: decision per action, the matching statement highlighted.
    c.go("/simulate")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}, indent=2)
    c.type("#sim-policy", policy)
    c.type("#sim-actions", "s3:GetObject s3:PutObject")
    c.click("#sim-run")
    rows = {r.find_elements("css selector", "td")[0].text: r.find_elements("css selector", "td")[2].text
            for r in c.els("#sim-results tbody tr")}
    assert rows == {"s3:GetObject": "allowed", "s3:PutObject": "implicitDeny"}
    matched = " ".join(e.text for e in c.els("#sim-highlight .line.matched"))
    assert "s3:GetObject" in matched
    c.shot("simulation")
    # A principal's own policies: carol may list users but not roles.
    c.go("/simulate")
    carol = f"arn:aws:iam::{ACCOUNT_ID}:user/carol"
    assert carol in [o.get_attribute("value") for o in c.els("#principals option")]
    c.type("#sim-source", carol)
    c.type("#sim-actions", "iam:ListUsers, iam:ListRoles")
    c.click("#sim-run")
    rows = {r.find_elements("css selector", "td")[0].text: r.find_elements("css selector", "td")[2].text
            for r in c.els("#sim-results tbody tr")}
    assert rows == {"iam:ListUsers": "allowed", "iam:ListRoles": "implicitDeny"}
    # The matched statement names carol's inline policy "some".
    assert c.el("#sim-results tbody tr td div").text.startswith("some lines")
    c.shot("simulation-principal")

    # The audit trail filtered by user and event name; the event JSON is there.
    c.go("/audit")
    c.type("#audit-user", "dave")
    c.type("#audit-event", "CreateAccessKey")
    c.click("#audit-search")
    names = [e.text for e in c.els("#audit-events td.event-name")]
    assert names and set(names) == {"CreateAccessKey"}
    assert {e.text for e in c.els("#audit-events td.event-user")} == {"dave"}
    c.els("#audit-events details summary")[0].click()
    event = json.loads(c.els("#audit-events details pre")[0].text)
    assert event["eventName"] == "CreateAccessKey" and event["userAgent"] == "stsd-console"
    c.shot("audit")
    console_key = c.els("#audit-events td.mono")[0].text
    assert console_key.startswith("ASIA")  # the console acts with temporary credentials
    # The time range: a window around now finds the event, one in the future nothing (the form is a GET).
    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M", time.gmtime(t))
    now = time.time()
    c.go(f"/audit?user=dave&event=CreateAccessKey&start={fmt(now - 600)}&end={fmt(now + 600)}")
    assert c.els("#audit-events td.event-name")
    c.go(f"/audit?user=dave&start={fmt(now + 3600)}&end={fmt(now + 7200)}")
    assert c.el("#audit-count").text == "0 events"
    # The access key filter.
    c.go(f"/audit?key={console_key}")
    assert c.el("#audit-count").text != "0 events"
    assert {e.text for e in c.els("#audit-events td.mono")} == {console_key}
    c.sign_out()


def test_password_reset_root_sign_in_and_throttling(world, browser, shots):
    s, iam = world["server"], world["iam"]
    c = Console(browser, s, shots)
    # PasswordResetRequired: the first page is the password change, nothing else opens until it is done.
    iam.create_user(UserName="erin")
    iam.create_login_profile(UserName="erin", Password=PASSWORD, PasswordResetRequired=True)
    iam.put_user_policy(UserName="erin", PolicyName="cp", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:ChangePassword", "iam:GetUser"],
                                                "Resource": f"arn:aws:iam::{ACCOUNT_ID}:user/erin"}]}))
    c.sign_in(ACCOUNT_ID, "erin", PASSWORD)
    assert c.els("#must-change")
    c.go("/users")
    assert c.els("#must-change")
    c.type("#old-password", PASSWORD)
    c.type("#new-password", "short")
    c.click("#password-submit")
    assert "PasswordPolicyViolation" in c.el("#api-error").text
    c.shot("password-policy-violation")
    c.type("#old-password", PASSWORD)
    c.type("#new-password", "Brand-New-Pass-2")
    c.click("#password-submit")
    assert "changed" in c.el("#password-changed").text
    assert iam.get_login_profile(UserName="erin")["LoginProfile"]["PasswordResetRequired"] is False
    c.sign_out()
    # The root signs in with its access key pair.
    from conftest import ROOT_KEY, ROOT_SECRET
    iam.create_account_alias(AccountAlias="console-main")
    iam.create_group(GroupName="Ops+Team")
    iam.add_user_to_group(GroupName="Ops+Team", UserName="erin")
    arn = iam.create_policy(PolicyName="ReadOnly", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}]}),
        Tags=[{"Key": "team", "Value": "ops"}])["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="Ops+Team", PolicyArn=arn)
    c.sign_in("console-main", ROOT_KEY, ROOT_SECRET)
    assert c.el("#identity-arn").text == f"arn:aws:iam::{ACCOUNT_ID}:root"
    assert c.el("#session-expiry").text.startswith("Session ends in 0h 59m")  # the script's countdown
    c.go("/groups")
    c.click("#groups a")
    assert "erin" in c.el("#group-members").text and "ReadOnly" in c.el("#attached-policies").text
    c.click("#attached-policies a")
    document = c.el("#policy-document").text
    assert json.loads(document)["Statement"][0]["Action"] == "iam:Get*" and "\n  " in document  # pretty-printed
    assert "Group Ops+Team" in c.el("#policy-entities").text and "ops" in c.el("#tags").text
    c.shot("policy")
    c.go("/users/erin")
    assert "Ops+Team" in c.text_of("main") and "Password last used" in c.text_of("main")
    # Own access keys: create (the secret once), deactivate, delete (after the script's confirmation).
    c.go("/keys")
    c.click("#create-key")
    assert len(c.el("#new-key-secret").text) == 40
    new_key = c.el("#new-key-id").text
    row = f"//table[@id='access-keys']//tr[td[text()='{new_key}']]"
    old = c.el("html")
    browser.find_element("xpath", row + "//button[text()='Deactivate']").click()
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, 15).until(lambda d: gone(old))
    assert [k["Status"] for k in iam.list_access_keys()["AccessKeyMetadata"] if k["AccessKeyId"] != ROOT_KEY] == ["Inactive"]
    old = c.el("html")
    browser.find_element("xpath", row + "//button[text()='Delete']").click()
    browser.switch_to.alert.accept()
    WebDriverWait(browser, 15).until(lambda d: gone(old))
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [ROOT_KEY]
    c.sign_out()
    # Five failures for one user name, then sign-in is refused even with the right password.
    for _ in range(5):
        c.sign_in(ACCOUNT_ID, "erin", "Wrong-Pass-9")
        assert "incorrect" in c.el("#signin-error").text
    c.sign_in(ACCOUNT_ID, "erin", "Brand-New-Pass-2")
    assert "Too many failed sign-in attempts" in c.el("#signin-error").text
    c.shot("throttled")


def test_a_new_installation_from_the_browser_alone(browser, shots):
    """The issue's newcomer path with no CLI at all: a fresh server, the root signs in with its keys, creates a
    role and a user with a console password from the console's forms; the user signs in, switches into the
    role, comes back, revokes the role's sessions and reads who did what in the audit trail."""
    from conftest import ROOT_KEY, ROOT_SECRET
    s = make_server()
    try:
        c = Console(browser, s, shots)
        c.sign_in(ACCOUNT_ID, ROOT_KEY, ROOT_SECRET)
        assert c.el("#identity-arn").text == f"arn:aws:iam::{ACCOUNT_ID}:root"
        c.go("/roles")
        c.type("#new-role-name", "Ops")
        assert c.el("#new-role-trusted").get_attribute("value") == ACCOUNT_ID  # this account by default
        c.type("#new-role-policy", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"], "Resource": "*"}]}))
        c.click("#create-role")
        assert "Ops" in c.el("#role-created").text
        assert f"arn:aws:iam::{ACCOUNT_ID}:root" in c.el("#trust-policy").text
        c.shot("new-install-role-created")
        c.go("/users")
        c.type("#new-user-name", "newbie")
        c.type("#new-user-password", PASSWORD)
        c.type("#new-user-policy", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "iam:Get*", "iam:List*", "iam:PutRolePolicy",
                                           "cloudtrail:LookupEvents"], "Resource": "*"}]}))
        c.click("#create-user")
        assert "newbie" in c.el("#user-created").text
        c.shot("new-install-user-created")
        # A mistake is an AWS error in the page, and what was done before it is listed.
        c.go("/users")
        c.type("#new-user-name", "weak")
        c.type("#new-user-password", "short")
        c.click("#create-user")
        assert "User weak created." in c.el("#done").text
        assert "PasswordPolicyViolation" in c.el("#api-error").text
        # The user page sets (or replaces) a console password.
        c.go("/users/weak")
        c.type("#set-password", PASSWORD)
        c.el("#set-password-reset").click()
        c.click("#set-password-submit")
        assert "set" in c.el("#password-set").text
        assert s.client("iam").get_login_profile(UserName="weak")["LoginProfile"]["PasswordResetRequired"] is True
        c.go("/users/weak")
        c.type("#set-password", "Another-Pass-3")
        c.click("#set-password-submit")
        assert "set" in c.el("#password-set").text
        assert s.client("iam").get_login_profile(UserName="weak")["LoginProfile"]["PasswordResetRequired"] is False
        c.sign_out()

        c.sign_in(ACCOUNT_ID, "newbie", PASSWORD)
        assert c.el("#caller-arn").text == f"arn:aws:iam::{ACCOUNT_ID}:user/newbie"
        c.go("/switch")
        c.type("#switch-account", ACCOUNT_ID)
        c.type("#switch-role", "Ops")
        c.type("#switch-display", "Ops")
        c.click("#switch-submit")
        assert c.el("#identity-arn").text == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/Ops/newbie"
        c.go("/roles")
        assert "Ops" in c.el("#roles").text  # the role's own permissions
        c.shot("new-install-switched")
        c.click("#back-to-user")
        c.go("/roles/Ops")
        time.sleep(1.1)  # aws:TokenIssueTime has second resolution
        c.click("#revoke-sessions")
        c.el("#revoke-confirm").click()
        c.click("#revoke-submit")
        assert "revoked" in c.el("#revoked").text
        root = s.client("iam")
        assert root.get_role_policy(RoleName="Ops", PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]
        c.go("/audit?event=CreateUser")
        users = {e.text for e in c.els("#audit-events td.event-user")}
        assert users == {"root"}
        assert c.el("#audit-count").text == "2 events"  # newbie and weak
        c.shot("new-install-audit")
        c.sign_out()
    finally:
        s.stop()
