import { Leaderboard } from './Leaderboard';

export function Landing() {
  return (
    <section className="landing">
      <h1>A compute network that lives in your browser</h1>
      <p className="lede">
        Volunteers lend their GPU (WebGPU) or CPU (WebAssembly) by keeping a tab open. Requesters send batch-inference
        jobs over ONNX models; work units travel peer-to-peer over WebRTC, results are checked and assembled in order.
        The server only introduces peers — job data never passes through it.
      </p>
      <div className="cards">
        <a className="card" href="#/provide">
          <h2>Provide compute</h2>
          <p>
            Become a Basilica provider: no install, no account. An Ed25519 key made in this browser is your identity.
          </p>
        </a>
        <a className="card" href="#/request">
          <h2>Run a job</h2>
          <p>
            Open Templar: pick a model and inputs, split them into units, watch providers work, download verified
            results.
          </p>
        </a>
      </div>
      <h2>Leaderboard</h2>
      <p className="muted">
        Providers by credit: FLOPs of accepted work, from receipts requesters signed. Anyone can verify a receipt
        offline.
      </p>
      <Leaderboard />
    </section>
  );
}
