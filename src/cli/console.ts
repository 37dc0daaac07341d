// `berth console NAME`: the guest's console through the daemon's WebSocket
// (/v1/guests/NAME/console over its UNIX socket, or TCP with TLS), on this terminal in raw mode. Ctrl-A then X
// detaches (the guest runs on); Ctrl-A Ctrl-A sends one Ctrl-A.

import WebSocket from 'ws';
import type { ApiClient } from '../host/apiClient.js';

const CTRL_A = 0x01;

export async function consoleCommand(
  api: ApiClient,
  name: string,
  opts: { readOnly: boolean; force: boolean } = { readOnly: false, force: false },
): Promise<number> {
  const socket = api.where;
  const q = opts.readOnly ? '?write=false' : opts.force ? '?force=true' : '';
  const ws = await api.webSocket(`/v1/guests/${encodeURIComponent(name)}/console${q}`);
  return new Promise((resolve) => {
    const stdin = process.stdin;
    const tty = stdin.isTTY;
    let escape = false;
    let code = 0;
    const finish = (): void => {
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onInput);
      resolve(code);
    };
    const onInput = (d: Buffer): void => {
      const out: number[] = [];
      for (const b of d) {
        if (escape) {
          escape = false;
          if (b === 0x78 || b === 0x58) {
            process.stderr.write('\r\n[berth: detached]\r\n');
            ws.close(1000);
            return;
          }
          out.push(b);
        } else if (b === CTRL_A && tty) escape = true;
        else out.push(b);
      }
      if (out.length > 0 && ws.readyState === WebSocket.OPEN) ws.send(Buffer.from(out));
    };
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let message = `the daemon answered ${res.statusCode}`;
        try {
          message = (JSON.parse(Buffer.concat(chunks).toString()) as { error: string }).error;
        } catch {
          // not JSON
        }
        process.stderr.write(`berth console: ${message}\n`);
        code = 1;
        finish();
      });
    });
    ws.on('open', () => {
      if (tty) {
        stdin.setRawMode(true);
        process.stderr.write(`[berth: console of ${name}; Ctrl-A then X detaches]\r\n`);
      }
      stdin.on('data', onInput);
      stdin.resume();
    });
    ws.on('message', (d: Buffer) => process.stdout.write(d));
    ws.on('close', (closeCode: number, reason: Buffer) => {
      if (closeCode === 4009) {
        process.stderr.write(`\r\nberth console: ${reason.toString()}\r\n`);
        code = 1;
      }
      finish();
    });
    ws.on('error', (e: NodeJS.ErrnoException) => {
      if (code === 0) {
        process.stderr.write(
          `berth console: cannot reach the daemon at ${socket}: ${e.code ?? e.message}\n`,
        );
        code = 3;
      }
    });
  });
}
