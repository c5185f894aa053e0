// Types of @herald/client (index.js). Frames are those of docs/protocol.md.

export type Cursor = string;

export interface Message {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  type: "text" | "image" | "file" | "audio" | "video" | "custom" | "system" | string;
  content: any;
  client_msg_id?: string | null;
  reply_to?: string | null;
  created_at: number;
  edited_at?: number | null;
  recalled?: boolean;
  [key: string]: any;
}

export interface Conversation {
  id: string;
  type: "direct" | "group" | "room" | "support" | string;
  name: string;
  avatar: string;
  owner: string | null;
  last_seq: number;
  last_activity_at: number;
  created_at: number;
  updated_at: number;
  member_count: number;
  members?: { user_id: string; role: string; joined_at: number; name: string; avatar: string; metadata?: any }[];
  peer?: { id: string; name: string; avatar: string; kind: string; last_seen: number | null; metadata: any; online: boolean };
  read_seq?: number;
  unread_count?: number;
  last_message?: { id: string; seq: number; sender_id: string; type: string; preview: string; created_at: number; recalled: boolean } | null;
  [key: string]: any;
}

export interface HelloFrame { type: "hello"; user: any; session_id: string; cursor: Cursor; heartbeat_ms: number }
export interface MessageNewFrame { type: "message.new"; message: Message; cursor: Cursor }
export interface MessageUpdatedFrame { type: "message.updated"; message: Message; cursor: Cursor }
/** removed: the users who left or were removed (docs/protocol.md); they get this frame too */
export interface ConversationUpdatedFrame { type: "conversation.updated"; conversation: Conversation; removed?: string[]; cursor: Cursor }
export interface ReadFrame { type: "read"; conversation_id: string; user_id: string; seq: number; cursor?: Cursor }
export interface TypingFrame { type: "typing"; conversation_id: string; user_id: string }
export interface PresenceFrame { type: "presence"; user_id: string; online: boolean; last_seen: number | null }
export interface NotificationFrame {
  type: "notification";
  delivery_id: string;
  notification: { type: string; title: string; content: string; data: any };
  created_at: number;
  cursor: Cursor | null; // its event's (null: the event could not be written)
}
export interface SendOkFrame {
  type: "send.ok"; client_msg_id: string; id: string; conversation_id: string; seq: number;
  created_at: number; cursor: Cursor; replay?: boolean;
}
export interface ErrorFrame { type: "error"; code: string; message: string; field?: string; client_msg_id?: string }
export interface EventFrame { type: "event"; [key: string]: any }
export interface PongFrame { type: "pong" }
export interface SyncDoneFrame { type: "sync.done"; cursor: Cursor; has_more: boolean; complete: boolean; earliest_cursor?: Cursor }

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
export interface StateEvent { type: "state"; state: ConnectionState; code?: number | null; delay?: number; attempt?: number }
export interface SyncedEvent { type: "client.synced"; cursor: Cursor }
export interface ClosedEvent { type: "client.closed"; code: number; reason: string }
export interface GapEvent { type: "client.gap"; earliest_cursor: Cursor }
export interface TokenFailedEvent { type: "client.token_failed"; message: string }

export interface HeraldEventMap {
  "hello": HelloFrame;
  "message.new": MessageNewFrame;
  "message.updated": MessageUpdatedFrame;
  "conversation.updated": ConversationUpdatedFrame;
  "read": ReadFrame;
  "typing": TypingFrame;
  "presence": PresenceFrame;
  "notification": NotificationFrame;
  "event": EventFrame;
  "error": ErrorFrame;
  "pong": PongFrame;
  "state": StateEvent;
  "client.synced": SyncedEvent;
  "client.closed": ClosedEvent;
  "client.gap": GapEvent;
  "client.token_failed": TokenFailedEvent;
  "*": HeraldEventMap[Exclude<keyof HeraldEventMap, "*">];
}

export type TokenSource = string | null | (() => string | null | Promise<string | null>);

export interface HeraldClientOptions {
  /** ws(s)://host/ws */
  url: string;
  /** a user access token, or a function called before every connection */
  token?: TokenSource;
  /** demo mode (HERALD_DEMO=1): the user id, no token */
  userId?: string | null;
  deviceId?: string | null;
  /** the last cursor applied in an earlier run; null: start from hello's cursor */
  cursor?: Cursor | null;
  /** send the token as ?token= instead of in the subprotocol list */
  tokenInQuery?: boolean;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  syncTimeoutMs?: number;
  /** a ping after this long without a frame (null: hello's heartbeat_ms; 0: none) */
  heartbeatMs?: number | null;
  /** no frame this long after the ping: the connection is dead, a new one is made */
  pongTimeoutMs?: number;
  /** the WebSocket implementation (default: globalThis.WebSocket) */
  WebSocket?: any;
}

export interface SendOptions {
  content: any;
  conversationId?: string | null;
  /** a user id: the direct conversation is created if needed */
  to?: string | null;
  type?: string;
  clientMsgId?: string | null;
  replyTo?: string | null;
}

export declare function uuid(): string;

export declare class SendError extends Error {
  code: string;
  frame: ErrorFrame;
  constructor(frame: ErrorFrame);
}

export declare class HeraldClient extends EventTarget {
  constructor(options: HeraldClientOptions);
  readonly url: string;
  cursor: Cursor | null;
  state: ConnectionState;
  hello: HelloFrame | null;
  connects: number;
  pending: Map<string, { frame: string; attempts: number; clientMsgId: string; promise: Promise<SendOkFrame> }>;
  readonly connected: boolean;
  on<K extends keyof HeraldEventMap>(type: K, fn: (frame: HeraldEventMap[K]) => void): () => void;
  off<K extends keyof HeraldEventMap>(type: K, fn: (frame: HeraldEventMap[K]) => void): void;
  once<K extends keyof HeraldEventMap>(type: K, fn: (frame: HeraldEventMap[K]) => void): () => void;
  connect(): void;
  synced(): Promise<void>;
  close(): void;
  reconnect(): void;
  send(options: SendOptions): Promise<SendOkFrame>;
  read(conversationId: string, seq: number): void;
  typing(conversationId: string): void;
  join(conversationId: string): void;
  leave(conversationId: string): void;
  ack(deliveryId: string): void;
  ping(): void;
  sendLive(frame: object): boolean;
}

export declare class HeraldError extends Error {
  status: number;
  code: string;
  field: string | null;
  body: any;
  constructor(status: number, body: any);
}

export interface Page<T> { results: T[]; count?: number; page?: number; page_size?: number; has_more?: boolean; [key: string]: any }

export interface Upload {
  id: string; url: string; path: string; name: string; size: number; mime: string;
  width?: number; height?: number; thumbnail_url?: string;
}

export interface AuthAnswer {
  access_token: string; token_type: string; expires_in: number;
  refresh_token: string; refresh_expires_in: number; user?: any;
}

export declare function mediaMessage(upload: Upload): {
  type: "image" | "audio" | "video" | "file";
  content: { url: string; name: string; size: number; mime: string; width?: number; height?: number; duration?: number };
};

export interface InboxItem {
  id: string; type: string; title: string; content: string; data: any; created_at: number;
  status: string; read_at: number | null; notification_id: string;
}

export interface HeraldRestOptions {
  /** the server's origin, "" for the page's own */
  baseUrl?: string;
  token?: TokenSource;
  /** demo mode: ?user_id= on every request */
  userId?: string | null;
  /** X-App-Key for login and register */
  appKey?: string | null;
  fetch?: typeof fetch;
}

export declare class HeraldRest {
  constructor(options?: HeraldRestOptions);
  token: TokenSource;
  userId: string | null;
  request<T = any>(method: string, path: string, options?: { body?: any; params?: Record<string, any>; headers?: Record<string, string> }): Promise<T>;
  login(username: string, password: string): Promise<AuthAnswer>;
  register(fields: { username: string; password: string; name?: string; email?: string; avatar?: string }): Promise<AuthAnswer>;
  refresh(refreshToken: string): Promise<AuthAnswer>;
  logout(everywhere?: boolean): Promise<null>;
  me(): Promise<any>;
  conversations(params?: { page?: number; page_size?: number; status?: string; assignee?: string }): Promise<Page<Conversation> & { unread_total: number }>;
  conversation(id: string): Promise<Conversation>;
  direct(peer: string): Promise<Conversation>;
  createConversation(body: { type: "group"; name: string; avatar?: string; members?: string[] } | { type: "room"; name: string; avatar?: string }): Promise<Conversation>;
  addMembers(conversationId: string, userIds: string[]): Promise<Conversation>;
  leaveConversation(conversationId: string): Promise<null>;
  rooms(params?: { page?: number; page_size?: number }): Promise<Page<Conversation & { joined: boolean }>>;
  joinRoom(roomId: string): Promise<Conversation>;
  messages(conversationId: string, params?: { before_seq?: number; after_seq?: number; limit?: number }): Promise<Page<Message>>;
  markRead(conversationId: string, seq: number): Promise<{ conversation_id: string; seq: number; unread_count: number }>;
  editMessage(id: string, content: any): Promise<Message>;
  recall(id: string): Promise<Message>;
  user(id: string): Promise<any>;
  presence(userIds: string[]): Promise<{ results: { user_id: string; online: boolean; last_seen: number | null }[] }>;
  quickReplies(params?: { page?: number; page_size?: number }): Promise<any>;
  inbox(params?: { unread?: 0 | 1; page?: number; page_size?: number }): Promise<Page<InboxItem> & { unread: number }>;
  inboxUnread(): Promise<{ unread: number }>;
  inboxRead(deliveryId: string): Promise<{ id: string; status: string; read_at: number }>;
  inboxReadAll(): Promise<{ updated: number }>;
  search(q: string, params?: { conversation_id?: string; page?: number; page_size?: number }): Promise<Page<any>>;
  upload(file: Blob, options?: { onProgress?: (loaded: number, total: number) => void; name?: string; signal?: AbortSignal }): Promise<Upload>;
}
