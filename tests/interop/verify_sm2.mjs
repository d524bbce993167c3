// An independent check of a transcript's SM2 proof with npm `sm-crypto` (SM2 with SM3,
// GM/T 0009 default user id): node verify_sm2.mjs ANSWER_FILE JWKS_FILE
// ANSWER_FILE: JSON {"vc_jwt": ..., "sm2": {"kid", "signature", ...}} (an issue answer).
// The signed bytes are the VC-JWT's JWS signing input (everything before its second ".").
// Prints {"valid": bool, ...}; exit 0 only when the signature verifies with the SM2 JWK
// of the set whose kid is the proof's.
import { readFileSync } from "node:fs";
import smCrypto from "sm-crypto";

const { sm2 } = smCrypto;
const [answerFile, jwksFile] = process.argv.slice(2);
const answer = JSON.parse(readFileSync(answerFile, "utf8"));
const jwks = JSON.parse(readFileSync(jwksFile, "utf8"));
const hex = (b64url) => Buffer.from(b64url, "base64url").toString("hex").padStart(64, "0");

const proof = answer.sm2 || {};
const jwk = (jwks.keys || []).find((k) => k.kid === proof.kid && k.kty === "EC" && k.crv === "SM2");
if (!jwk) {
  console.log(JSON.stringify({ valid: false, error: "no SM2 key with the proof's kid" }));
  process.exit(1);
}
const [header, payload] = String(answer.vc_jwt).trim().split(".");
const signingInput = `${header}.${payload}`;
const publicKey = "04" + hex(jwk.x) + hex(jwk.y);
// hash: true computes e = SM3(Z || M); no userId given: sm-crypto's default 1234567812345678.
const valid = sm2.doVerifySignature(signingInput, String(proof.signature), publicKey, { hash: true });
console.log(JSON.stringify({ valid, kid: proof.kid }));
process.exit(valid ? 0 : 1);
