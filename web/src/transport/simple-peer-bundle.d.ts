// simple-peer's main entry needs Node's Buffer and streams, which Vite does not
// polyfill; its prebuilt browser bundle carries its own. Same API, same types.
declare module 'simple-peer/simplepeer.min.js' {
  import SimplePeer from 'simple-peer';
  export default SimplePeer;
}
