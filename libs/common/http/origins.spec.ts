import { OriginAllowList, hostAllowed, hostName } from './origins';

describe('origin allow-list', () => {
  const list = new OriginAllowList(['https://app.example.com/', 'https://*.corp.example']);

  it("allows Ollama's defaults, the configured patterns and the server's own origin", () => {
    for (const o of [
      'http://localhost',
      'https://localhost:8443',
      'http://127.0.0.1:3000',
      'http://[::1]:5173',
      'http://0.0.0.0:8080',
      'app://obsidian.md',
      'file://',
      'tauri://localhost',
      'vscode-webview://1234',
      'vscode-file://vscode-app',
      'https://app.example.com',
      'https://chat.corp.example',
      'HTTP://LOCALHOST:3000',
    ])
      expect({ o, ok: list.allows(o) }).toEqual({ o, ok: true });
    expect(list.allows('http://gateway.internal:11434', 'gateway.internal:11434')).toBe(true);
  });

  it('refuses look-alikes, null and other hosts', () => {
    for (const o of [
      'null',
      'http://localhost.evil.example',
      'http://127.0.0.1.nip.io',
      'https://app.example.com.evil.example',
      'https://evilcorp.example',
      'https://evil.example',
      'chrome-extension://abc',
    ])
      expect({ o, ok: list.allows(o, 'gateway.internal:11434') }).toEqual({ o, ok: false });
    // Same host name, other port: another origin.
    expect(list.allows('http://gateway.internal:8080', 'gateway.internal:11434')).toBe(false);
  });

  it('allows everything with *', () => {
    expect(new OriginAllowList(['*']).allows('https://evil.example')).toBe(true);
  });
});

describe('Host check (DNS rebinding)', () => {
  it('accepts local names with or without a port, and the bound host', () => {
    for (const h of [
      'localhost',
      'localhost:11434',
      '127.0.0.1:11434',
      '[::1]:11434',
      'a.localhost',
      undefined,
    ])
      expect({ h, ok: hostAllowed(h, '127.0.0.1') }).toEqual({ h, ok: true });
    expect(hostAllowed('corral.lan:11434', 'corral.lan')).toBe(true);
    expect(hostName('[::1]:80')).toBe('::1');
  });

  it('refuses every other name', () => {
    for (const h of ['evil.example', 'evil.example:11434', 'localhost.evil.example', '10.0.0.5:11434'])
      expect({ h, ok: hostAllowed(h, '127.0.0.1') }).toEqual({ h, ok: false });
  });
});
