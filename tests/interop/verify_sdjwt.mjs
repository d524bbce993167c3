// An independent SD-JWT VC check with OpenWallet's @sd-jwt/sd-jwt-vc:
//   node verify_sdjwt.mjs PRESENTATION_FILE JWKS_FILE [NONCE AUDIENCE]
// The issuer key is the JWKS entry named by the issuer JWT's kid; the holder key is the
// credential's cnf.jwk. With NONCE (and AUDIENCE) a KB-JWT is required: the library
// checks its signature, nonce and sd_hash; the audience is compared here (the library
// returns the KB-JWT's aud but does not compare it). RFC 9901 says a disclosure that
// no digest references makes the presentation invalid; the library skips such
// disclosures, so they are found here with its own decoder (unpack's disclosure map).
// Prints {"valid": bool, ...}; exit 0 only when valid.
import { readFileSync } from "node:fs";
import { ES256, digest } from "@sd-jwt/crypto-nodejs";
import { createHashMapping, decodeSdJwt, unpack } from "@sd-jwt/decode";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";

const [presentationFile, jwksFile, nonce, audience] = process.argv.slice(2);
const presentation = readFileSync(presentationFile, "utf8").trim();
const jwks = JSON.parse(readFileSync(jwksFile, "utf8"));

function fail(stage, error) {
  console.log(JSON.stringify({ valid: false, stage, error: String(error && error.message ? error.message : error) }));
  process.exit(1);
}

const hasher = (data, alg) => digest(data, alg);
let header;
try {
  header = JSON.parse(Buffer.from(presentation.split("~")[0].split(".")[0], "base64url").toString("utf8"));
} catch (error) {
  fail("parse", error);
}
const issuerJwk = (jwks.keys || []).find((k) => k.kid === header.kid);
if (!issuerJwk) fail("issuer_key", `no key ${header.kid} in the JWK set`);
const verifier = await ES256.getVerifier(issuerJwk);
const kbVerifier = async (data, signature, payload) => {
  const holder = payload && payload.cnf && payload.cnf.jwk;
  if (!holder) return false;
  return (await ES256.getVerifier(holder))(data, signature);
};
const sdjwt = new SDJwtVcInstance({ hasher, hashAlg: "sha-256", verifier, kbVerifier });

let result;
try {
  result = await sdjwt.verify(presentation, nonce ? { keyBindingNonce: nonce } : {});
} catch (error) {
  fail("library", error);
}
if (audience !== undefined && (!result.kb || result.kb.payload.aud !== audience)) {
  fail("audience", `KB-JWT aud ${result.kb && result.kb.payload.aud} is not ${audience}`);
}
try {
  const decoded = await decodeSdJwt(presentation, hasher);
  const alg = decoded.jwt.payload._sd_alg || "sha-256";
  const byDigest = await createHashMapping(decoded.disclosures, { hasher, alg });
  const { disclosureKeymap } = await unpack(decoded.jwt.payload, decoded.disclosures, hasher);
  const used = new Set(Object.values(disclosureKeymap));
  const unreferenced = Object.keys(byDigest).filter((d) => !used.has(d));
  if (unreferenced.length || Object.keys(byDigest).length !== decoded.disclosures.length) {
    fail("disclosures", `disclosures no digest references (or repeated): ${unreferenced.join(", ")}`);
  }
} catch (error) {
  fail("disclosures", error);
}
const claims = result.payload;
console.log(
  JSON.stringify({
    valid: true,
    iss: claims.iss,
    vct: claims.vct,
    jti: claims.jti,
    claims: Object.keys(claims).sort(),
    achievements: (claims.achievements || []).map((a) => a.credentialSubject.achievement.humanCode),
    credentialStatus: claims.credentialStatus,
    kb: result.kb ? { nonce: result.kb.payload.nonce, aud: result.kb.payload.aud } : null,
  }),
);
process.exit(0);
