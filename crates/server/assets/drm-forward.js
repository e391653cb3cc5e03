// drm_panic URL prefixes that end in '#' (Arch Linux's does) put the crash
// data in the URL fragment, which a browser never sends to the server. The
// server answers such a request with a page that loads this script; it moves
// the fragment into the query and reloads, so the server can decode it.
// location.replace keeps the fragment-only URL out of the history.
const hash = window.location.hash;
if (hash.length > 1) {
  const params = hash.startsWith('#?') ? hash.slice(2) : hash.slice(1);
  if (/(^|&)(z|zl)=/.test(params)) {
    const note = document.getElementById('forwarding');
    if (note) note.textContent = 'Sending the crash log to the server...';
    window.location.replace(window.location.pathname + '?' + params);
  }
}
