import NIOCore
import Testing

@testable import KeelAPI

/// Which bytes make a connection HTTP/2 and which requests count as gRPC.
@Suite struct ClientPortDetectionTests {
    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func prefaceIsHTTP2OnlyWhenWholeAndDecidedAtTheFirstDifferentByte() {
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        #expect(ClientPortProtocolDetector.classify(Self.bytes(preface)) == true)
        #expect(ClientPortProtocolDetector.classify(Self.bytes(preface + "\0\0\u{12}\u{4}")) == true)
        for length in 0..<preface.utf8.count {
            #expect(ClientPortProtocolDetector.classify(ByteBuffer(bytes: preface.utf8.prefix(length))) == nil)
        }
        #expect(ClientPortProtocolDetector.classify(Self.bytes("PO")) == false)
        #expect(ClientPortProtocolDetector.classify(Self.bytes("G")) == false)
        #expect(ClientPortProtocolDetector.classify(Self.bytes("PRI * HTTP/1.1\r\n")) == false)
    }

    @Test func grpcContentTypesAreRecognised() {
        for accepted in ["application/grpc", "application/grpc+proto", "application/grpc;charset=utf-8"] {
            #expect(GRPCHeaders.isGRPC(contentType: accepted), "\(accepted)")
        }
        for refused in ["application/json", "application/grpc+json", "application/grpcx", "text/plain", ""] {
            #expect(!GRPCHeaders.isGRPC(contentType: refused), "\(refused)")
        }
    }
}
