// Talking to the studio server: JSON in and out, the session token on every change.

const token = document.querySelector('meta[name="studio-token"]').content;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function answer(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = { message: `HTTP ${resp.status} ${resp.statusText}` };
  }
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

export async function get(path, params = {}) {
  const query = new URLSearchParams(params).toString();
  return answer(await fetch(query ? `${path}?${query}` : path, { credentials: 'same-origin' }));
}

export async function post(path, body) {
  return answer(await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-Studio-Token': token },
    body: JSON.stringify(body),
  }));
}
