// An independent VC-JWT check with panva's `jose`: node verify_jose.mjs TOKEN_FILE JWKS_FILE
// Prints {"valid": bool, ...}; exit 0 only when the signature verifies against the JWK set.
import { readFileSync } from "node:fs";
import { createLocalJWKSet, jwtVerify } from "jose";

const [tokenFile, jwksFile] = process.argv.slice(2);
const token = readFileSync(tokenFile, "utf8").trim();
const jwks = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, "utf8")));
try {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    algorithms: ["RS256", "ES256", "EdDSA"],
  });
  console.log(JSON.stringify({ valid: true, header: protectedHeader, iss: payload.iss, jti: payload.jti }));
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ valid: false, error: String(error && error.code ? error.code : error) }));
  process.exit(1);
}
