#!/usr/bin/env node
// Smoke test of the loopback SAML IdPs, used the way an SP uses them. Node 20 built-ins only,
// plus the `xmlsec1` command (Debian) as an independent signature checker.
//
//   node dev/saml-idp/smoke.mjs [simplesamlphp|npm ...]     (default: simplesamlphp)
//
// The IdPs must be running (dev/saml-idp/simplesamlphp.sh start, dev/saml-idp/saml-idp-npm.sh
// start). For each IdP the script writes a hand-made SP metadata to the IdP's sp.xml, then:
//   1. SP-initiated login, AuthnRequest by HTTP-Redirect, alice through the login form;
//   2. SP-initiated login, AuthnRequest by HTTP-POST, bob;
//   3. IdP-initiated login (unsolicited Response);
//   4. SP-initiated logout (LogoutRequest by HTTP-Redirect to the IdP's SLO);
//   5. an AuthnRequest from an SP the IdP does not know (what the error looks like).
// Each Response is checked with `xmlsec1 --verify` (Response and Assertion signature, against
// the IdP certificate only) and a tampered copy must fail the same check.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { randomBytes, X509Certificate, createVerify, createSign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { USERS, profileFields } from './saml-idp-npm.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const abs = (p) => resolve(ROOT, p);
const PASSWORDS = { alice: 'alicepass', bob: 'bobpass' };

const SP = {
  entityId: 'http://localhost:8787',
  acs: 'http://localhost:8787/broker/corp/endpoint',
  slo: 'http://localhost:8787/broker/corp/endpoint',
  nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
};

const IDPS = {
  simplesamlphp: () => {
    const port = process.env.SAML_IDP_PORT || '8082';
    const dir = abs(process.env.SAML_IDP_DIR || 'build/saml-idp');
    const base = `http://127.0.0.1:${port}`;
    return {
      name: 'simplesamlphp',
      entityId: `${base}/saml2/idp/metadata.php`,
      metadataUrl: `${base}/saml2/idp/metadata.php`,
      sso: `${base}/saml2/idp/SSOService.php`,
      slo: `${base}/saml2/idp/SingleLogoutService.php`,
      idpInitiated: (sp, relay) =>
        `${base}/saml2/idp/SSOService.php?spentityid=${encodeURIComponent(sp)}&RelayState=${encodeURIComponent(relay)}`,
      cert: join(dir, 'cert/idp.pem'),
      spXml: join(dir, 'sp.xml'),
      passwords: true,
      ssoSession: true,
      nameIdFormats: true,
      initSlo: (relay) => `${base}/saml2/idp/initSLO.php?RelayState=${encodeURIComponent(relay)}`,
      idpInitiatedRelayState: 'relay-unsolicited',
      // POST username, password and the hidden AuthState to module.php/core/loginuserpass.php.
      async login(browser, page, user, password = PASSWORDS[user]) {
        const form = parseForm(page.text, page.url); // <form action="?" method="post" name="f">
        assert.ok(form && 'username' in form.fields && 'password' in form.fields, `expected the login form at ${page.url}`);
        const hidden = Object.fromEntries(Object.entries(form.fields).filter(([k]) => k !== 'username' && k !== 'password'));
        console.log(`  login form: ${form.method} ${form.action.split('?')[0]} fields ${Object.keys(form.fields).join(', ')}`);
        return browser.go(form.action, { ...hidden, username: user, password });
      },
      loginFormShown: (page) => /name="password"/.test(page.text),
    };
  },
  npm: () => {
    const port = process.env.SAML_IDP_NPM_PORT || '8083';
    const dir = abs(process.env.SAML_IDP_NPM_DIR || 'build/saml-idp-npm');
    const base = `http://127.0.0.1:${port}`;
    return {
      name: 'npm',
      entityId: `${base}/metadata`,
      metadataUrl: `${base}/metadata`,
      sso: `${base}/saml/sso`,
      slo: `${base}/saml/slo`,
      // No AuthnRequest: the user form, then an unsolicited Response (RelayState only from --relayState).
      idpInitiated: () => `${base}/saml/sso`,
      cert: join(dir, 'cert/idp.pem'),
      spXml: join(dir, 'sp.xml'),
      passwords: false,
      ssoSession: false,
      postsToRequestedAcs: true,
      idpInitiatedRelayState: '', // an empty RelayState field
      // No password: POST the user's NameID and attributes, with the hidden _authnRequest, to /signin.
      async login(browser, page, user) {
        const form = parseForm(page.text, page.url, (tag) => /action="\/signin"/.test(tag));
        assert.ok(form && 'userName' in form.fields, `expected saml-idp's user form at ${page.url}`);
        const hidden = form.fields._authnRequest ? { _authnRequest: form.fields._authnRequest } : {};
        console.log(`  user form: ${form.method} ${form.action} fields ${Object.keys(form.fields).join(', ')}`);
        return browser.go(form.action, { ...profileFields(USERS[user]), ...hidden });
      },
      loginFormShown: (page) => /action="\/signin"/.test(page.text),
      async importSp() {
        execFileSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'saml-idp-npm.mjs'), 'start'], { stdio: 'pipe' });
      },
    };
  },
};

const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
};

// ---------------------------------------------------------------- a tiny browser
class Browser {
  constructor() {
    this.jar = new Map(); // name -> value (one host: 127.0.0.1)
    this.pages = [];
  }
  cookieHeader() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  keep(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0/i.test(a) || /^\s*expires=.*1970/i.test(a));
      if (expired || value === 'deleted' || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }
  // GET or POST, following redirects on the IdP's host only; a redirect elsewhere (to the SP)
  // is returned, not followed.
  async go(url, form) {
    let method = form ? 'POST' : 'GET';
    let body = form ? new URLSearchParams(form).toString() : undefined;
    for (let hop = 0; hop < 10; hop++) {
      const headers = { cookie: this.cookieHeader() };
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, { method, body, headers, redirect: 'manual' });
      this.keep(res);
      const text = await res.text();
      this.pages.push(`${method} ${url.split('?')[0]} -> ${res.status}`);
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location'), url).toString();
        if (new URL(next).host !== new URL(url).host) return { url, status: res.status, location: next, text };
        url = next;
        method = 'GET';
        body = undefined;
        continue;
      }
      return { url, status: res.status, text };
    }
    throw new Error('too many redirects');
  }
}

const decodeEntities = (s) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&#039;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i'));
  return m ? decodeEntities(m[2] ?? m[3]) : undefined;
}

// The first <form> of a page (or the first its tag matches `pick`): its action and named <input>s.
function parseForm(html, baseUrl, pick = () => true) {
  const f = [...html.matchAll(/<form\b[^>]*>/gi)].find((m) => pick(m[0]));
  if (!f) return null;
  const action = new URL(attr(f[0], 'action') ?? baseUrl, baseUrl).toString();
  const method = (attr(f[0], 'method') || 'GET').toUpperCase();
  const end = html.indexOf('</form>', f.index);
  const body = html.slice(f.index, end < 0 ? undefined : end);
  const fields = {};
  for (const m of body.matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(m[0], 'name');
    if (name) fields[name] = attr(m[0], 'value') ?? '';
  }
  return { action, method, fields };
}

// ---------------------------------------------------------------- SAML messages
const newId = () => '_' + randomBytes(20).toString('hex');
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

function spMetadata(nameIdFormat = SP.nameIdFormat, { signingCertB64, wantAssertionsSigned = true } = {}) {
  const key = signingCertB64
    ? `\n    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${signingCertB64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
    : '';
  return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${SP.entityId}">
  <md:SPSSODescriptor AuthnRequestsSigned="${!!signingCertB64}" WantAssertionsSigned="${wantAssertionsSigned}" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${key}
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${SP.slo}"/>
    <md:NameIDFormat>${nameIdFormat}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${SP.acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`;
}

function authnRequest(idp, id, issuer = SP.entityId, { acs = SP.acs, nameIdFormat = SP.nameIdFormat, forceAuthn = false } = {}) {
  const policy = nameIdFormat ? `<samlp:NameIDPolicy Format="${nameIdFormat}" AllowCreate="true"/>` : '';
  const force = forceAuthn ? ' ForceAuthn="true"' : '';
  return `<samlp:AuthnRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${id}" Version="2.0" IssueInstant="${now()}" Destination="${idp.sso}" AssertionConsumerServiceURL="${acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"${force}><saml:Issuer>${issuer}</saml:Issuer>${policy}</samlp:AuthnRequest>`;
}

function logoutRequest(idp, id, nameId, sessionIndex) {
  const fmt = nameId.format ? ` Format="${nameId.format}"` : '';
  const spnq = nameId.spNameQualifier ? ` SPNameQualifier="${nameId.spNameQualifier}"` : '';
  const si = sessionIndex ? `<samlp:SessionIndex>${sessionIndex}</samlp:SessionIndex>` : '';
  return `<samlp:LogoutRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${id}" Version="2.0" IssueInstant="${now()}" Destination="${idp.slo}"><saml:Issuer>${SP.entityId}</saml:Issuer><saml:NameID${spnq}${fmt}>${nameId.value}</saml:NameID>${si}</samlp:LogoutRequest>`;
}

const redirectQuery = (param, xml, relayState) => {
  const q = `${param}=${encodeURIComponent(deflateRawSync(Buffer.from(xml)).toString('base64'))}`;
  return relayState === undefined ? q : `${q}&RelayState=${encodeURIComponent(relayState)}`;
};

// ---------------------------------------------------------------- reading a Response (regex: a
// smoke check of trusted output, not an SP's parser)
function el(xml, local) {
  const m = xml.match(new RegExp(`<(?:[\\w-]+:)?${local}\\b[^>]*?(?:/>|>([\\s\\S]*?)</(?:[\\w-]+:)?${local}>)`));
  return m ? { tag: m[0].match(/^<[^>]*>/)[0], inner: m[1] ?? '' } : null;
}
function summarize(xml) {
  const root = xml.match(/<(?:[\w-]+:)?Response\b[^>]*>/)[0];
  const assertion = el(xml, 'Assertion');
  const nameId = el(assertion.inner, 'NameID');
  const attrs = [];
  for (const m of assertion.inner.matchAll(/<(?:[\w-]+:)?Attribute\b([^>]*)>([\s\S]*?)<\/(?:[\w-]+:)?Attribute>/g)) {
    const tag = `<x${m[1]}>`;
    const values = [...m[2].matchAll(/<(?:[\w-]+:)?AttributeValue\b[^>]*>([\s\S]*?)<\/(?:[\w-]+:)?AttributeValue>/g)].map((v) => decodeEntities(v[1]));
    attrs.push({ name: attr(tag, 'Name'), nameFormat: attr(tag, 'NameFormat'), friendlyName: attr(tag, 'FriendlyName'), values });
  }
  const scd = el(assertion.inner, 'SubjectConfirmationData');
  const conditions = el(assertion.inner, 'Conditions');
  const authn = el(assertion.inner, 'AuthnStatement');
  const sigOf = (scope) => {
    const s = el(scope, 'Signature');
    if (!s) return null;
    return {
      reference: attr(el(s.inner, 'Reference').tag, 'URI'),
      signatureMethod: attr(el(s.inner, 'SignatureMethod').tag, 'Algorithm'),
      c14n: attr(el(s.inner, 'CanonicalizationMethod').tag, 'Algorithm'),
      digest: attr(el(s.inner, 'DigestMethod').tag, 'Algorithm'),
    };
  };
  // The Response's own signature is its direct child (before the Assertion); the Assertion's is inside it.
  const beforeAssertion = xml.slice(0, xml.indexOf(assertion.tag));
  return {
    responseId: attr(root, 'ID'),
    destination: attr(root, 'Destination'),
    inResponseTo: attr(root, 'InResponseTo'),
    issuer: decodeEntities(el(xml, 'Issuer').inner),
    status: attr(el(xml, 'StatusCode').tag, 'Value'),
    assertionId: attr(assertion.tag, 'ID'),
    nameId: { value: decodeEntities(nameId.inner), format: attr(nameId.tag, 'Format'), spNameQualifier: attr(nameId.tag, 'SPNameQualifier') },
    recipient: scd && attr(scd.tag, 'Recipient'),
    scdInResponseTo: scd && attr(scd.tag, 'InResponseTo'),
    audience: el(conditions.inner, 'Audience')?.inner,
    notBefore: attr(conditions.tag, 'NotBefore'),
    notOnOrAfter: attr(conditions.tag, 'NotOnOrAfter'),
    sessionIndex: authn && attr(authn.tag, 'SessionIndex'),
    responseSignature: sigOf(beforeAssertion),
    assertionSignature: sigOf(assertion.inner),
    attributes: attrs,
  };
}

// xmlsec1, trusting only the IdP's certificate, starting at the given Signature element.
function xmlsecVerify(xml, certPem, xpath, extraIdElement) {
  const dir = mkdtempSync(join(tmpdir(), 'saml-smoke-'));
  try {
    const f = join(dir, 'response.xml');
    writeFileSync(f, xml);
    execFileSync('xmlsec1', [
      '--verify', '--pubkey-cert-pem', certPem, '--enabled-key-data', 'rsa,x509',
      '--id-attr:ID', `${NS.samlp}:Response`, '--id-attr:ID', `${NS.saml}:Assertion`,
      ...(extraIdElement ? ['--id-attr:ID', `${NS.samlp}:${extraIdElement}`] : []),
      '--node-xpath', xpath, f,
    ], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const RESPONSE_SIG = "/*[local-name()='Response']/*[local-name()='Signature']";
const ASSERTION_SIG = "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']";

function checkSignatures(idp, xml, s) {
  const out = {};
  for (const [which, xpath, sig, id] of [
    ['Response', RESPONSE_SIG, s.responseSignature, s.responseId],
    ['Assertion', ASSERTION_SIG, s.assertionSignature, s.assertionId],
  ]) {
    if (!sig) { out[which] = 'unsigned'; continue; }
    assert.equal(sig.reference, `#${id}`, `${which} signature must reference the ${which} itself`);
    assert.ok(xmlsecVerify(xml, idp.cert, xpath), `${which} signature must verify with xmlsec1`);
    out[which] = `valid (${sig.signatureMethod.split('#')[1]}, ${sig.c14n.split('#')[0].split('/').pop()}, digest ${sig.digest.split('#')[1]})`;
  }
  // The check can fail: the same signature over a changed attribute value is refused.
  const tampered = xml.replace(/(<(?:[\w-]+:)?AttributeValue\b[^>]*>)([^<]*)/, '$1$2-tampered');
  assert.notEqual(tampered, xml);
  if (s.assertionSignature) assert.ok(!xmlsecVerify(tampered, idp.cert, ASSERTION_SIG), 'tampered Assertion must fail');
  if (s.responseSignature) assert.ok(!xmlsecVerify(tampered, idp.cert, RESPONSE_SIG), 'tampered Response must fail');
  // And a key that is not the IdP's is refused.
  const other = join(mkdtempSync(join(tmpdir(), 'saml-other-')), 'other.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=other', '-keyout', '/dev/null', '-out', other], { stdio: 'pipe' });
  assert.ok(!xmlsecVerify(xml, other, s.assertionSignature ? ASSERTION_SIG : RESPONSE_SIG), 'another key must fail');
  rmSync(dirname(other), { recursive: true, force: true });
  return out;
}

// The auto-submitting page that carries the Response to the ACS.
function responseFromPage(page) {
  const form = parseForm(page.text, page.url);
  assert.ok(form && form.fields.SAMLResponse, `expected a form with SAMLResponse, got: ${page.text.slice(0, 300)}`);
  const xml = Buffer.from(form.fields.SAMLResponse, 'base64').toString('utf8');
  return { form, xml };
}

function report(label, idp, form, xml, expect) {
  const s = summarize(xml);
  assert.equal(form.action, SP.acs, 'the form posts to the ACS');
  assert.equal(form.method, 'POST');
  assert.equal(s.status, 'urn:oasis:names:tc:SAML:2.0:status:Success');
  assert.equal(s.issuer, idp.entityId);
  assert.equal(s.destination, SP.acs);
  assert.equal(s.recipient, SP.acs);
  assert.equal(s.audience, SP.entityId);
  assert.equal(s.inResponseTo, expect.inResponseTo);
  assert.equal(s.scdInResponseTo, expect.inResponseTo);
  assert.equal(form.fields.RelayState, expect.relayState);
  const mail = s.attributes.find((a) => a.name === 'mail');
  assert.deepEqual(mail?.values, [expect.mail]);
  const sigs = checkSignatures(idp, xml, s);
  console.log(`\n[${idp.name}] ${label}`);
  console.log(`  form: POST ${form.action} fields ${Object.keys(form.fields).join(', ')}; RelayState=${JSON.stringify(form.fields.RelayState)}`);
  console.log(`  Response ID=${s.responseId} InResponseTo=${s.inResponseTo ?? '(none)'} Destination=${s.destination}`);
  console.log(`  Issuer=${s.issuer}`);
  console.log(`  NameID=${s.nameId.value} Format=${s.nameId.format} SPNameQualifier=${s.nameId.spNameQualifier ?? '(none)'}`);
  console.log(`  Audience=${s.audience} Recipient=${s.recipient} NotBefore=${s.notBefore} NotOnOrAfter=${s.notOnOrAfter} SessionIndex=${s.sessionIndex}`);
  console.log(`  signatures (xmlsec1): Response ${sigs.Response}; Assertion ${sigs.Assertion}; tampered copy and another key refused`);
  for (const a of s.attributes) {
    console.log(`  attribute ${a.name}${a.friendlyName ? ` (${a.friendlyName})` : ''} [${a.nameFormat?.split(':').pop() ?? 'no NameFormat'}] = ${JSON.stringify(a.values)}`);
  }
  return s;
}

async function smoke(idp) {
  writeFileSync(idp.spXml, spMetadata());
  if (idp.importSp) await idp.importSp();
  const meta = await (await fetch(idp.metadataUrl)).text();
  assert.match(meta, /IDPSSODescriptor/, 'IdP metadata');
  console.log(`\n[${idp.name}] metadata ${idp.metadataUrl}; wrote SP metadata to ${idp.spXml}`);

  // 1. Redirect binding, alice; a wrong password first.
  {
    const b = new Browser();
    const id = newId();
    const relay = 'relay-redirect-' + randomBytes(4).toString('hex');
    let page = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, id), relay)}`);
    if (idp.passwords) {
      page = await idp.login(b, page, 'alice', 'wrong');
      assert.ok(!/SAMLResponse/.test(page.text) && idp.loginFormShown(page), 'wrong password shows the form again');
      console.log(`  wrong password: HTTP ${page.status}, the login form again`);
    }
    const done = await idp.login(b, page, 'alice');
    const { form, xml } = responseFromPage(done);
    console.log(`  pages: ${b.pages.join(' | ')}`);
    const s = report('SP-initiated, AuthnRequest by HTTP-Redirect, alice', idp, form, xml, { inResponseTo: id, relayState: relay, mail: 'alice@example.org' });

    // A second AuthnRequest in the same browser.
    const id2 = newId();
    const again = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, id2), 'r2')}`);
    if (idp.ssoSession) {
      const r2 = responseFromPage(again);
      assert.equal(summarize(r2.xml).inResponseTo, id2);
      console.log('  second AuthnRequest in the same browser: answered at once (SSO session), no login form');
      const forced = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, newId(), SP.entityId, { forceAuthn: true }), 'r2f')}`);
      assert.ok(idp.loginFormShown(forced) && !/SAMLResponse/.test(forced.text), 'ForceAuthn asks for the password again');
      console.log('  ForceAuthn="true" in the same browser: the login form again');
    } else {
      assert.ok(idp.loginFormShown(again) && !/SAMLResponse/.test(again.text));
      console.log('  second AuthnRequest in the same browser: the user form again (no SSO session)');
    }

    // 4. SP-initiated logout by HTTP-Redirect.
    const lid = newId();
    const out = await b.go(`${idp.slo}?${redirectQuery('SAMLRequest', logoutRequest(idp, lid, s.nameId, s.sessionIndex), 'relay-logout')}`);
    let lr;
    if (out.location) {
      const u = new URL(out.location);
      const raw = u.search.slice(1);
      const q = new URLSearchParams(raw);
      const xmlOut = inflateRawSync(Buffer.from(q.get('SAMLResponse'), 'base64')).toString('utf8');
      const root = xmlOut.match(/<(?:[\w-]+:)?LogoutResponse\b[^>]*>/)[0];
      lr = { binding: 'HTTP-Redirect', to: `${u.origin}${u.pathname}`, xml: xmlOut, root, relay: q.get('RelayState'), sigAlg: q.get('SigAlg'), signature: q.get('Signature') };
      if (lr.signature) {
        // The Redirect binding signs the query string as sent: SAMLResponse=..&RelayState=..&SigAlg=..
        const part = (k) => raw.split('&').find((p) => p.startsWith(k + '='));
        const signed = ['SAMLResponse', 'RelayState', 'SigAlg'].map(part).filter(Boolean).join('&');
        const key = new X509Certificate(readFileSync(idp.cert)).publicKey;
        const alg = lr.sigAlg.endsWith('rsa-sha256') ? 'RSA-SHA256' : 'RSA-SHA1';
        lr.signatureValid = createVerify(alg).update(signed).verify(key, Buffer.from(lr.signature, 'base64'));
        assert.ok(lr.signatureValid, 'LogoutResponse Redirect signature');
        lr.tamperedRefused = !createVerify(alg).update(signed + 'x').verify(key, Buffer.from(lr.signature, 'base64'));
        assert.ok(lr.tamperedRefused);
      }
    } else {
      const f = parseForm(out.text, out.url);
      assert.ok(f && f.fields.SAMLResponse, `expected a LogoutResponse, got HTTP ${out.status}: ${out.text.slice(0, 300)}`);
      const xmlOut = Buffer.from(f.fields.SAMLResponse, 'base64').toString('utf8');
      lr = { binding: 'HTTP-POST', to: f.action, xml: xmlOut, root: xmlOut.match(/<(?:[\w-]+:)?LogoutResponse\b[^>]*>/)[0], relay: f.fields.RelayState };
      if (/<(?:[\w-]+:)?Signature\b/.test(xmlOut)) {
        const xp = "/*[local-name()='LogoutResponse']/*[local-name()='Signature']";
        lr.xmlSignatureValid = xmlsecVerify(xmlOut, idp.cert, xp, 'LogoutResponse');
        assert.ok(lr.xmlSignatureValid, 'LogoutResponse signature must verify with xmlsec1');
        assert.ok(!xmlsecVerify(xmlOut.replace('status:Success', 'status:Requester'), idp.cert, xp, 'LogoutResponse'), 'tampered LogoutResponse must fail');
      }
    }
    const status = attr(el(lr.xml, 'StatusCode').tag, 'Value');
    assert.equal(attr(lr.root, 'InResponseTo'), lid);
    assert.equal(status, 'urn:oasis:names:tc:SAML:2.0:status:Success');
    assert.equal(lr.to, SP.slo);
    console.log(`\n[${idp.name}] SP-initiated logout, LogoutRequest by HTTP-Redirect`);
    console.log(`  answer: ${lr.binding} to ${lr.to}; LogoutResponse InResponseTo=${attr(lr.root, 'InResponseTo')} Status=${status.split(':').pop()} RelayState=${JSON.stringify(lr.relay)}`);
    console.log(`  LogoutResponse signature: ${lr.signature ? `query signature ${lr.sigAlg.split('#')[1]}, valid=${lr.signatureValid}, altered query refused=${lr.tamperedRefused}` : lr.xmlSignatureValid ? `enveloped XML signature, valid with xmlsec1, tampered copy refused` : 'unsigned'}`);
    const after = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, newId()), 'r3')}`);
    assert.ok(idp.loginFormShown(after) && !/SAMLResponse/.test(after.text), 'after logout the IdP asks for the password again');
    console.log(`  after logout a new AuthnRequest shows the login form again${idp.ssoSession ? ' (IdP session ended)' : ' (as always: no SSO session)'}`);
  }

  // 2. POST binding, bob.
  {
    const b = new Browser();
    const id = newId();
    const relay = 'relay-post-' + randomBytes(4).toString('hex');
    const page = await b.go(idp.sso, { SAMLRequest: Buffer.from(authnRequest(idp, id)).toString('base64'), RelayState: relay });
    const done = await idp.login(b, page, 'bob');
    const { form, xml } = responseFromPage(done);
    console.log(`  pages: ${b.pages.join(' | ')}`);
    report('SP-initiated, AuthnRequest by HTTP-POST, bob', idp, form, xml, { inResponseTo: id, relayState: relay, mail: 'bob@example.org' });
  }

  // 3. IdP-initiated.
  {
    const b = new Browser();
    const page = await b.go(idp.idpInitiated(SP.entityId, 'relay-unsolicited'));
    const done = await idp.login(b, page, 'alice');
    const { form, xml } = responseFromPage(done);
    console.log(`  pages: ${b.pages.join(' | ')}`);
    report('IdP-initiated (unsolicited), alice', idp, form, xml, { inResponseTo: undefined, relayState: idp.idpInitiatedRelayState, mail: 'alice@example.org' });
  }

  // 5. An SP the IdP does not know.
  {
    const b = new Browser();
    const uid = newId();
    const page = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, uid, 'http://unknown.example'), 'x')}`);
    assert.ok(!/SAMLResponse/.test(page.text), 'no Response for an unknown SP');
    if (idp.loginFormShown(page)) {
      const done = await idp.login(b, page, 'alice');
      const r = summarize(responseFromPage(done).xml);
      console.log(`\n[${idp.name}] AuthnRequest from an unknown SP: not checked; the user form, then a Response to ${r.destination} for Audience ${r.audience} with InResponseTo=${r.inResponseTo === uid ? "the unknown SP's request" : r.inResponseTo}`);
    } else {
    const title = (page.text.match(/<h1[^>]*>([\s\S]*?)<\/h1>/i)?.[1] ?? page.text.match(/<title>([\s\S]*?)<\/title>/i)?.[1] ?? '').replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim();
    const detail = page.text.match(/(Unable to locate metadata[^<]*|MetadataNotFound[^<]*|unknown[^<]{0,120})/i)?.[1] ?? '';
    console.log(`\n[${idp.name}] AuthnRequest from an unknown SP: HTTP ${page.status}, no Response; page: "${title}"${detail ? ` — "${decodeEntities(decodeEntities(detail)).replace(/\s+/g, ' ').trim().slice(0, 160)}"` : ''}`);
    }
  }

  // 6. An AuthnRequest naming an ACS URL that is not in the SP's metadata.
  {
    const b = new Browser();
    const id = newId();
    const page = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, id, SP.entityId, { acs: 'http://evil.example/acs' }), 'x')}`);
    if (idp.loginFormShown(page)) {
      const done = await idp.login(b, page, 'alice');
      const { form, xml } = responseFromPage(done);
      const r = summarize(xml);
      // SimpleSAMLphp posts to the registered ACS. saml-idp (even with --disableRequestAcsUrl) posts
      // the form to the AuthnRequest's URL, with Destination/Recipient still the registered ACS.
      assert.equal(form.action, idp.postsToRequestedAcs ? 'http://evil.example/acs' : SP.acs);
      assert.equal(r.destination, SP.acs);
      console.log(`\n[${idp.name}] AuthnRequest with an unregistered ACS URL: not refused; the form posts to ${form.action}, Destination=${r.destination} Recipient=${r.recipient}`);
    } else {
      console.log(`\n[${idp.name}] AuthnRequest with an unregistered ACS URL: refused, HTTP ${page.status}`);
    }
  }

  // 7. Which NameID format is used (SimpleSAMLphp: per SP metadata and NameIDPolicy).
  if (idp.nameIdFormats) {
    const P = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
    const T = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
    const U = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';
    const seen = [];
    for (const [meta, policy, want] of [[P, null, P], [P, T, T], [SP.nameIdFormat, null, SP.nameIdFormat], [U, null, U], [SP.nameIdFormat, P, P]]) {
      writeFileSync(idp.spXml, spMetadata(meta));
      const b = new Browser();
      const id = newId();
      const page = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, id, SP.entityId, { nameIdFormat: policy }), 'x')}`);
      const form = parseForm(page.text, page.url);
      const done = await b.go(form.action, { ...form.fields, username: 'alice', password: 'alicepass' });
      const { xml } = responseFromPage(done);
      const n = summarize(xml).nameId;
      assert.equal(n.format, want);
      seen.push(`metadata ${meta.split(':').pop()} + NameIDPolicy ${policy ? policy.split(':').pop() : '(none)'} -> ${n.format.split(':').pop()} "${n.value}"`);
    }
    writeFileSync(idp.spXml, spMetadata());
    console.log(`\n[${idp.name}] NameID formats:\n  ${seen.join('\n  ')}`);
  }

  // 8. What the SP metadata's AuthnRequestsSigned and WantAssertionsSigned do (SimpleSAMLphp).
  if (idp.nameIdFormats) {
    const dir = mkdtempSync(join(tmpdir(), 'saml-sp-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-subj', '/CN=sp', '-keyout', join(dir, 'sp.key'), '-out', join(dir, 'sp.pem')], { stdio: 'pipe' });
    const spKey = readFileSync(join(dir, 'sp.key'));
    const certB64 = readFileSync(join(dir, 'sp.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, '');
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(idp.spXml, spMetadata(SP.nameIdFormat, { signingCertB64: certB64 }));
    // The Redirect binding's signature: over `SAMLRequest=..&RelayState=..&SigAlg=..` exactly as sent.
    const signedQuery = (xml, relay, tamper = false) => {
      const q = `${redirectQuery('SAMLRequest', xml, relay)}&SigAlg=${encodeURIComponent('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256')}`;
      // tamper: the signature is over another RelayState than the one sent.
      const over = tamper ? q.replace(`RelayState=${relay}`, `RelayState=${relay}-other`) : q;
      const sig = createSign('RSA-SHA256').update(over).sign(spKey).toString('base64');
      return `${q}&Signature=${encodeURIComponent(sig)}`;
    };
    const outcome = async (query) => {
      const b = new Browser();
      const page = await b.go(`${idp.sso}?${query}`);
      if (idp.loginFormShown(page)) return { ok: true, b, page };
      const title = (page.text.match(/<h1[^>]*>([\s\S]*?)<\/h1>/i)?.[1] ?? '').replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim();
      return { ok: false, text: `HTTP ${page.status} "${title}"` };
    };
    const unsigned = await outcome(redirectQuery('SAMLRequest', authnRequest(idp, newId()), 'x'));
    const tampered = await outcome(signedQuery(authnRequest(idp, newId()), 'x', true));
    const signed = await outcome(signedQuery(authnRequest(idp, newId()), 'x'));
    assert.ok(!unsigned.ok && !tampered.ok && signed.ok);
    console.log(`\n[${idp.name}] SP metadata AuthnRequestsSigned="true" with a signing certificate:`);
    console.log(`  unsigned Redirect AuthnRequest: refused, ${unsigned.text}`);
    console.log(`  Redirect AuthnRequest with a wrong signature: refused, ${tampered.text}`);
    console.log('  Redirect AuthnRequest signed (RSA-SHA256 over the query string): the login form');

    writeFileSync(idp.spXml, spMetadata(SP.nameIdFormat, { wantAssertionsSigned: false }));
    const b = new Browser();
    const page = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, newId()), 'x')}`);
    const s = summarize(responseFromPage(await idp.login(b, page, 'alice')).xml);
    assert.ok(s.responseSignature && !s.assertionSignature);
    console.log(`  SP metadata WantAssertionsSigned="false": the Assertion is NOT signed (the SP's metadata overrides the IdP's saml20.sign.assertion); the Response still is`);
    writeFileSync(idp.spXml, spMetadata());
  }

  // 9. IdP-initiated logout (SimpleSAMLphp's saml2/idp/initSLO.php): a LogoutRequest to the SP.
  if (idp.initSlo) {
    const b = new Browser();
    const page = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, newId()), 'x')}`);
    const s = summarize(responseFromPage(await idp.login(b, page, 'alice')).xml);
    const out = await b.go(idp.initSlo('http://localhost:8787/after-logout'));
    assert.ok(out.location, `expected a redirect to the SP's SLO, got HTTP ${out.status}`);
    const u = new URL(out.location);
    const q = new URLSearchParams(u.search);
    const xml = inflateRawSync(Buffer.from(q.get('SAMLRequest'), 'base64')).toString('utf8');
    const root = xml.match(/<(?:[\w-]+:)?LogoutRequest\b[^>]*>/)[0];
    const nameId = el(xml, 'NameID');
    assert.equal(decodeEntities(nameId.inner), s.nameId.value);
    assert.equal(el(xml, 'SessionIndex').inner, s.sessionIndex);
    const raw = u.search.slice(1);
    const part = (k) => raw.split('&').find((p) => p.startsWith(k + '='));
    const signed = ['SAMLRequest', 'RelayState', 'SigAlg'].map(part).filter(Boolean).join('&');
    const valid = q.get('Signature') && createVerify('RSA-SHA256').update(signed).verify(new X509Certificate(readFileSync(idp.cert)).publicKey, Buffer.from(q.get('Signature'), 'base64'));
    assert.ok(valid, 'LogoutRequest query signature');
    console.log(`\n[${idp.name}] IdP-initiated logout (${idp.initSlo('…').split('?')[0]}):`);
    console.log(`  HTTP-Redirect to ${u.origin}${u.pathname} with SAMLRequest (LogoutRequest Destination=${attr(root, 'Destination')}, NameID=${decodeEntities(nameId.inner)} Format=${attr(nameId.tag, 'Format')?.split(':').pop()}, SessionIndex=the Response's), RelayState=${JSON.stringify(q.get('RelayState'))}, SigAlg=${q.get('SigAlg')?.split('#')[1]}, signature valid`);
    // The SP answers with a LogoutResponse to the IdP's SLO; the IdP then sends the browser to RelayState.
    const resp = `<samlp:LogoutResponse xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${newId()}" Version="2.0" IssueInstant="${now()}" Destination="${idp.slo}" InResponseTo="${attr(root, 'ID')}"><saml:Issuer>${SP.entityId}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>`;
    const end = await b.go(`${idp.slo}?${redirectQuery('SAMLResponse', resp, q.get('RelayState') ?? undefined)}`);
    console.log(`  the SP's unsigned LogoutResponse back to the SLO: ${end.location ? `redirect to ${end.location}` : `HTTP ${end.status} "${(end.text.match(/<h1[^>]*>([\s\S]*?)<\/h1>/i)?.[1] ?? end.text.match(/<title>([\s\S]*?)<\/title>/i)?.[1] ?? '').replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim()}"`}`);
    const after = await b.go(`${idp.sso}?${redirectQuery('SAMLRequest', authnRequest(idp, newId()), 'x')}`);
    assert.ok(idp.loginFormShown(after), 'after IdP-initiated logout the IdP asks for the password again');
    console.log('  afterwards a new AuthnRequest shows the login form (IdP session ended)');
  }
}

const which = process.argv.slice(2);
let failed = false;
for (const name of which.length ? which : ['simplesamlphp']) {
  if (!IDPS[name]) { console.error(`unknown IdP ${name}; use ${Object.keys(IDPS).join(' or ')}`); process.exit(2); }
  const t0 = Date.now();
  try {
    await smoke(IDPS[name]());
    console.log(`\n[${name}] OK (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed = true;
    console.error(`\n[${name}] FAILED: ${e.stack || e}`);
  }
}
process.exit(failed ? 1 : 0);
