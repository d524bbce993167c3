// An independent Data Integrity check with Digital Bazaar's @digitalbazaar/vc and the
// eddsa-rdfc-2022 cryptosuite, OFFLINE: node verify_di.mjs CREDENTIAL_FILE DID_FILE CONTEXTS_DIR
// The document loader serves only the JSON-LD contexts creditbank ships (CONTEXTS_DIR,
// listed in its index.json) and the saved DID document: any other URL is an error.
// Prints {"verified": bool, ...}; exit 0 only when the proof verifies.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as vc from "@digitalbazaar/vc";
import { DataIntegrityProof } from "@digitalbazaar/data-integrity";
import { cryptosuite as eddsaRdfc2022 } from "@digitalbazaar/eddsa-rdfc-2022-cryptosuite";

const [credentialFile, didFile, contextsDir] = process.argv.slice(2);
const credential = JSON.parse(readFileSync(credentialFile, "utf8"));
const didDocument = JSON.parse(readFileSync(didFile, "utf8"));
const index = JSON.parse(readFileSync(join(contextsDir, "index.json"), "utf8"));
const MULTIKEY_V1 = "https://w3id.org/security/multikey/v1";
const loaded = [];

async function documentLoader(url) {
  loaded.push(url);
  if (Object.hasOwn(index, url)) {
    const document = JSON.parse(readFileSync(join(contextsDir, index[url]), "utf8"));
    return { contextUrl: null, documentUrl: url, document };
  }
  const [base] = url.split("#");
  if (base === didDocument.id) {
    if (url === base) return { contextUrl: null, documentUrl: url, document: didDocument };
    const method = (didDocument.verificationMethod || []).find((m) => m.id === url);
    if (method) {
      return { contextUrl: null, documentUrl: url, document: { "@context": MULTIKEY_V1, ...method } };
    }
  }
  throw new Error(`offline: refusing to load ${url}`);
}

const suite = new DataIntegrityProof({ cryptosuite: eddsaRdfc2022 });
try {
  // This checks the proof only: the Bitstring Status List entries are checked by the
  // status tests (the library refuses a credentialStatus without a checkStatus).
  const checkStatus = async () => ({ verified: true });
  const result = await vc.verifyCredential({ credential, suite, documentLoader, checkStatus });
  const errors = [];
  const collect = (e) => {
    if (!e) return;
    if (Array.isArray(e.errors)) e.errors.forEach(collect);
    else errors.push(String(e.message || e));
  };
  collect(result.error);
  for (const r of result.results || []) collect(r.error);
  console.log(JSON.stringify({ verified: result.verified === true, errors, loaded }));
  process.exit(result.verified === true ? 0 : 1);
} catch (error) {
  console.log(JSON.stringify({ verified: false, errors: [String(error)], loaded }));
  process.exit(1);
}
