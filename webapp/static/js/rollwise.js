// The page's scripts: esbuild bundles them, in this order, into one hashed file at setup
// (`flask assets build`); base.html loads that one file. app.js first (the toast and icon
// helpers the others use), offline-queue.js before pwa.js (the queue it drives).
// A new page script: add its import here, not a <script> tag.
import "./app.js";
import "./sessions.js";
import "./photos.js";
import "./minoxidil.js";
import "./offline-queue.js";
import "./pwa.js";
import "./dataio.js";
import "./passkeys.js";
